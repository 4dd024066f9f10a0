"""Reading and writing Ronto's .slt files (a sqllogictest dialect; the Rust runner in
sql/tests/slt.rs reads the same format).

A file is blocks separated by blank lines. A block whose first non-comment line starts with
`query` or `statement` is a record; other blocks are comments. Lines starting with `#` before
the header belong to the record (`# KNOWN-BUG: ...` marks it as an expected failure).

    query <TYPES> [rowsort]       TYPES: one letter per column (I int, R float, T text,
    <Ronto SQL, one or more lines>       D timestamp, B bool, N null); written by the generator
    -- ref: <reference SQL for ClickHouse, if the Ronto SQL is not ClickHouse SQL>
    ----
    <expected rows, values separated by one tab; NULL, (empty) for '', true/false>

    statement ok
    <SQL>

    statement error <ClickHouse code> <substring of Ronto's message>
    <SQL>
"""

REF = "-- ref:"


class Record:
    def __init__(self, comments, header, body, results, line):
        self.comments = comments  # list of '#' lines before the header
        self.header = header  # header line
        self.body = body  # lines between header and '----' (SQL and -- ref: lines)
        self.results = results  # list of result lines, or None for statements
        self.line = line  # 1-based line number of the header

    @property
    def kind(self):
        return self.header.split()[0]

    def sql(self):
        return "\n".join(l for l in self.body if not l.startswith(REF)).strip()

    def ref(self):
        refs = [l[len(REF):].strip() for l in self.body if l.startswith(REF)]
        return "\n".join(refs).strip() or None

    def lines(self):
        out = list(self.comments) + [self.header] + list(self.body)
        if self.results is not None:
            out.append("----")
            out.extend(self.results)
        return out


def parse(text):
    """Returns a list of items: Record or list-of-lines (a comment block)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    items = []
    block, start = [], None
    for i, line in enumerate(lines + [""]):
        if line.strip() == "":
            if block:
                items.append(parse_block(block, start))
            block, start = [], None
            continue
        if start is None:
            start = i + 1
        block.append(line)
    return items


def parse_block(block, start):
    i = 0
    while i < len(block) and block[i].startswith("#"):
        i += 1
    if i == len(block) or not block[i].split()[0] in ("query", "statement"):
        return block
    comments, header = block[:i], block[i]
    rest = block[i + 1:]
    if header.split()[0] == "query":
        if "----" in rest:
            k = rest.index("----")
            return Record(comments, header, rest[:k], rest[k + 1:], start + i)
        return Record(comments, header, rest, [], start + i)
    return Record(comments, header, rest, None, start + i)


def render(items):
    blocks = []
    for it in items:
        blocks.append("\n".join(it.lines() if isinstance(it, Record) else it))
    return "\n\n".join(blocks) + "\n"
