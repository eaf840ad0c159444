"""Real document files made on the spot: PDFs (with a text layer, scanned, encrypted),
Word files (and a zip bomb), HTML pages with boilerplate.

The PDF writer is deliberately small: Helvetica in WinAnsi encoding (German umlauts
work), one `Tj` per line as word processors write them, a page number at the bottom of
each page, and an optional title in the document information dictionary. Paragraphs are
wrapped to lines and set apart by extra space; a paragraph starting with "# " is set as a
heading in a larger bold font.
"""

from __future__ import annotations

import io
import textwrap
import zipfile

import docx
from pypdf import PdfWriter

# A made-up lighthouse, so that no model knows the answers: three pages of a PDF (a
# paragraph per string, "# " a heading) and the paragraphs of a web article.
LIGHTHOUSE = [
    [
        "# Der Zorblax-Leuchtturm",
        "Der Zorblax-Leuchtturm steht auf einer Granitklippe nördlich des Hafens von "
        "Kettlewell. Er wurde im Jahr 1887 aus grauem Stein erbaut und ist zweiunddreißig "
        "Meter hoch.",
        "Ein zweiter Absatz. Er ist kurz.",
    ],
    [
        "Im Jahr 1923 strich Mira Kettlewell den Leuchtturm grün. Seitdem nennen ihn die "
        "Fischer den grünen Riesen, und auf alten Postkarten ist er so zu sehen.",
        "Die Treppe im Inneren hat 212 Stufen.",
    ],
    ["Seit 2019 leuchtet oben eine sparsame Lampe. Die alte Linse steht im Museum der Stadt."],
]

ARTICLE = [
    "Der Zorblax-Leuchtturm wurde im Jahr 1923 von Mira Kettlewell grün gestrichen. Er "
    "steht auf einer Granitklippe nördlich des Hafens.",
    "Jeden Sommer besuchen ihn mehr als zwölftausend Menschen. Die Treppe im Inneren hat "
    "212 Stufen, und oben weht fast immer ein kräftiger Wind.",
]

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points


def pdf_file(
    pages: list[list[str]],
    *,
    title: str | None = None,
    width: int = 75,
    size: float = 11,
    page_numbers: bool = True,
) -> bytes:
    """A PDF with a text layer: one list of paragraphs per page."""
    contents = [_page_content(paras, number, width, size, page_numbers) for number, paras in
                enumerate(pages, start=1)]  # fmt: skip
    return _pdf(contents, title=title)


def scanned_pdf(pages: int = 2) -> bytes:
    """A PDF like a scanner's: each page is one image, and there is no text layer."""
    pixels = bytes(range(0, 256, 4))  # an 8×8 grey ramp
    image = (
        b"<< /Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray"
        b" /BitsPerComponent 8 /Length %d >>\nstream\n" % len(pixels) + pixels + b"\nendstream"
    )
    draw = b"q 480 0 0 700 57 71 cm /Im1 Do Q"
    return _pdf([draw] * pages, image=image)


def encrypted_pdf(data: bytes, password: str = "geheim") -> bytes:
    """`data` encrypted (AES-128) so that it opens only with `password`."""
    writer = PdfWriter(clone_from=io.BytesIO(data))
    writer.encrypt(user_password=password, owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _page_content(paras: list[str], number: int, width: int, size: float, numbered: bool) -> bytes:
    ops, y = [], PAGE_HEIGHT - 72.0
    for index, para in enumerate(paras):
        heading = para.startswith("# ")
        font, font_size = ("F2", size * 1.5) if heading else ("F1", size)
        if index:
            y -= size * 0.9  # the space between paragraphs
        wrap = textwrap.wrap(para.removeprefix("# "), width, break_on_hyphens=False)
        for line in wrap:
            ops.append(b"BT /%s %g Tf 72 %g Td (%s) Tj ET" % (font.encode(), font_size, y,
                                                             _pdf_string(line)))  # fmt: skip
            y -= font_size * 1.3
    if numbered:
        ops.append(b"BT /F1 9 Tf 290 40 Td (%d) Tj ET" % number)
    return b"\n".join(ops)


def _pdf_string(line: str) -> bytes:
    raw = line.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _pdf(contents: list[bytes], *, title: str | None = None, image: bytes | None = None) -> bytes:
    """Objects, cross-reference table and trailer around the given page contents."""
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", font % b"Helvetica",
               font % b"Helvetica-Bold", image or b"<< >>"]  # fmt: skip
    resources = b"/Font << /F1 3 0 R /F2 4 0 R >>" + (b" /XObject << /Im1 5 0 R >>" * bool(image))
    kids = []
    for content in contents:
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << %s >>"
            b" /Contents %d 0 R >>" % (PAGE_WIDTH, PAGE_HEIGHT, resources, len(objects))
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    info = b""
    if title is not None:
        objects.append(b"<< /Title (%s) >>" % _pdf_string(title))
        info = b" /Info %d 0 R" % len(objects)
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\n" % (len(objects) + 1, info)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def docx_file(blocks: list[str], *, title: str | None = None, table: list[list[str]] = ()) -> bytes:
    """A Word file: "# x" is a heading 1, "Title: x" the Title paragraph, others body text.

    `table` rows are added after the blocks.
    """
    document = docx.Document()
    if title is not None:
        document.core_properties.title = title
    for block in blocks:
        if block.startswith("Title: "):
            document.add_heading(block.removeprefix("Title: "), 0)
        elif block.startswith("# "):
            document.add_heading(block.removeprefix("# "), 1)
        else:
            document.add_paragraph(block)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                grid.cell(r, c).text = cell
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_bomb_docx(megabytes: int = 100) -> bytes:
    """A real .docx with one more part that unpacks to `megabytes` of zeros (~0.1 % packed)."""
    source = zipfile.ZipFile(io.BytesIO(docx_file(["Ein harmloser Satz."])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for member in source.infolist():
            bomb.writestr(member, source.read(member))
        with bomb.open("word/media/zeros.bin", "w", force_zip64=True) as part:
            block = bytes(2**20)
            for _ in range(megabytes):
                part.write(block)
    return out.getvalue()


def html_page(paragraphs: list[str], *, title: str = "Der Zorblax-Leuchtturm") -> bytes:
    """An article page with everything a real one has around its text: head, scripts,
    styles, navigation, a cookie banner, a sidebar and a footer."""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>{title} | Hafenblatt</title>
<style>body {{ font-family: serif }} .cookie {{ position: fixed }}</style>
<script>var tracker = "Skript-Text darf nie zitiert werden";</script></head>
<body>
<header><a href="/">Hafenblatt</a><nav><ul><li><a href="/politik">Politik</a></li>
<li><a href="/sport">Sportnachrichten aus der Region</a></li></ul></nav></header>
<div class="cookie" id="cookie-banner">Wir verwenden Cookies, um Ihnen das beste Erlebnis
zu bieten. <button>Alle akzeptieren</button></div>
<main><article><h1>{title}</h1>
{body}
</article></main>
<aside>Lesen Sie auch: Zehn Tipps für den Urlaub am Meer</aside>
<footer>Impressum · Datenschutz · © 2024 Hafenblatt Verlag</footer>
<script>document.write("Werbung im Skript");</script>
</body></html>""".encode()


BOILERPLATE = (
    "Skript-Text",
    "Politik",
    "Sportnachrichten",
    "Cookies",
    "akzeptieren",
    "Lesen Sie auch",
    "Impressum",
    "Hafenblatt Verlag",
    "Werbung",
    "font-family",
)
"""Words of html_page's boilerplate that must never be quoted."""
