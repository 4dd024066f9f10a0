//! Pretty and PrettyCompact: tables drawn with box characters for people at a terminal, laid
//! out as ClickHouse 26 lays them out (row numbers, numbers and date-times right-aligned,
//! strings left-aligned, NULL as `ᴺᵁᴸᴸ`, no colour over HTTP). Each block is its own table, as
//! in ClickHouse; at most [`PRETTY_ROWS_MAX`] rows are drawn, then a line says how many there
//! were.

use super::column::{views, Cells};
use super::scalar::write_text;
use super::{Encoder, Field, FormatError, QueryStats};
use crate::types::ResultSet;

/// Rows drawn at most (ClickHouse's `output_format_pretty_max_rows`).
pub const PRETTY_ROWS_MAX: u64 = 10_000;
/// From this many rows on, PrettyCompact repeats the column names in the bottom border
/// (ClickHouse's `output_format_pretty_display_footer_column_names_min_rows`).
const FOOTER_NAMES_MIN_ROWS: usize = 50;
const NULL: &str = "ᴺᵁᴸᴸ";

pub(super) struct Pretty {
    compact: bool,
    shown: u64,
}

pub(super) fn pretty(compact: bool) -> Box<dyn Encoder> {
    Box::new(Pretty { compact, shown: 0 })
}

/// Display width: characters, East Asian wide characters and emoji counting two; a multi-line
/// value is as wide as its widest line.
fn width(s: &str) -> usize {
    s.split('\n')
        .map(|l| l.chars().map(char_width).sum::<usize>())
        .max()
        .unwrap_or(0)
}

fn char_width(c: char) -> usize {
    let wide = matches!(c as u32,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD);
    if wide {
        2
    } else {
        1
    }
}

fn right_aligned(cells: &Cells<'_>) -> bool {
    matches!(
        cells,
        Cells::Int(_)
            | Cells::UInt(_)
            | Cells::Narrow { .. }
            | Cells::Float(_)
            | Cells::DateTime(_)
    )
}

fn pad(out: &mut String, n: usize, c: char) {
    out.extend(std::iter::repeat_n(c, n));
}

/// `text` in a cell of `w` characters.
fn cell(out: &mut String, text: &str, w: usize, right: bool) {
    let gap = w.saturating_sub(width(text));
    if right {
        pad(out, gap, ' ');
        out.push_str(text);
    } else {
        out.push_str(text);
        pad(out, gap, ' ');
    }
}

impl Encoder for Pretty {
    fn begin(&mut self, _: &[Field], _: &mut Vec<u8>) -> Result<(), FormatError> {
        Ok(())
    }

    fn block(
        &mut self,
        fields: &[Field],
        block: &ResultSet,
        out: &mut Vec<u8>,
    ) -> Result<(), FormatError> {
        let rows = (block.rows() as u64).min(PRETTY_ROWS_MAX.saturating_sub(self.shown)) as usize;
        if rows == 0 {
            return Ok(());
        }
        let columns = views(block);
        let right: Vec<bool> = columns.iter().map(|c| right_aligned(&c.cells)).collect();
        let mut text: Vec<Vec<String>> = Vec::with_capacity(rows);
        let mut buf = Vec::new();
        for row in 0..rows {
            text.push(
                columns
                    .iter()
                    .map(|c| {
                        if c.is_null(row) {
                            return NULL.to_string();
                        }
                        buf.clear();
                        write_text(&mut buf, &c.cells, row);
                        String::from_utf8_lossy(&buf).into_owned()
                    })
                    .collect(),
            );
        }
        let widths: Vec<usize> = fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                text.iter()
                    .map(|r| width(&r[i]))
                    .chain([width(&f.name)])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let first = self.shown + 1;
        let last = self.shown + rows as u64;
        let number_width = last.to_string().len() + 2; // "12. "
        let margin = " ".repeat(number_width);
        let mut s = String::new();
        // A border line: `left`, then per column `fill` around the optional name, `mid`
        // between columns, `right`.
        let border = |s: &mut String, chars: [char; 4], names: bool| {
            let [left, fill, mid, right_end] = chars;
            s.push_str(&margin);
            s.push(left);
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    s.push(mid);
                }
                if names {
                    let (w, n) = (widths[i], width(&f.name));
                    s.push(fill);
                    if right[i] {
                        pad(s, w - n, fill);
                        s.push_str(&f.name);
                    } else {
                        s.push_str(&f.name);
                        pad(s, w - n, fill);
                    }
                    s.push(fill);
                } else {
                    pad(s, widths[i] + 2, fill);
                }
            }
            s.push(right_end);
            s.push('\n');
        };
        // One row; a value with line breaks continues on further lines, marked `↴` at the end
        // of a broken line and `↳` at the start of its continuation, as ClickHouse draws it.
        let line = |s: &mut String, number: Option<u64>, cells: &[String], bar: char| {
            let parts: Vec<Vec<&str>> = cells.iter().map(|t| t.split('\n').collect()).collect();
            let height = parts.iter().map(Vec::len).max().unwrap_or(1);
            for k in 0..height {
                match number {
                    Some(n) if k == 0 => {
                        let label = format!("{n}. ");
                        pad(s, number_width - label.len(), ' ');
                        s.push_str(&label);
                    }
                    _ => s.push_str(&margin),
                }
                for (i, p) in parts.iter().enumerate() {
                    s.push(bar);
                    s.push(if k > 0 && k < p.len() { '↳' } else { ' ' });
                    cell(s, p.get(k).copied().unwrap_or(""), widths[i], right[i]);
                    s.push(if k + 1 < p.len() { '↴' } else { ' ' });
                }
                s.push(bar);
                s.push('\n');
            }
        };
        if self.compact {
            border(&mut s, ['┌', '─', '┬', '┐'], true);
            for (r, cells) in text.iter().enumerate() {
                line(&mut s, Some(first + r as u64), cells, '│');
            }
            border(&mut s, ['└', '─', '┴', '┘'], rows >= FOOTER_NAMES_MIN_ROWS);
        } else {
            let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
            border(&mut s, ['┏', '━', '┳', '┓'], false);
            line(&mut s, None, &names, '┃');
            border(&mut s, ['┡', '━', '╇', '┩'], false);
            for (r, cells) in text.iter().enumerate() {
                if r > 0 {
                    border(&mut s, ['├', '─', '┼', '┤'], false);
                }
                line(&mut s, Some(first + r as u64), cells, '│');
            }
            border(&mut s, ['└', '─', '┴', '┘'], false);
        }
        out.extend_from_slice(s.as_bytes());
        self.shown = last;
        Ok(())
    }

    fn finish(
        &mut self,
        _: &[Field],
        rows: u64,
        _: &QueryStats,
        out: &mut Vec<u8>,
    ) -> Result<(), FormatError> {
        if rows > self.shown {
            out.extend_from_slice(
                format!("Showed {} out of {rows} rows.\n", self.shown).as_bytes(),
            );
        }
        Ok(())
    }
}
