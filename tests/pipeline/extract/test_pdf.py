import pymupdf
import pytest

from llm_pretrain.pipeline.extract.config import PdfConfig
from llm_pretrain.pipeline.extract.pdf import PdfRejected, extract_pdf, join_pages, pdf_date, reflow
from llm_pretrain.samples import encrypt_pdf, write_image_only_pdf, write_pdf
from tests.conftest import MAIN_TEXT


def test_multi_page_text_and_metadata(tmp_path):
    path = tmp_path / "a.pdf"
    write_pdf(path, "Annual report", ["First page text. " * 30, "Second page text. " * 30])
    pdf = extract_pdf(path.read_bytes(), PdfConfig())
    assert pdf.pages == 2
    assert pdf.title == "Annual report" and pdf.author == "A. Author"
    assert pdf.date == "2024-03-15"
    assert pdf.text.index("First page") < pdf.text.index("Second page")
    assert "\n" not in pdf.text.split("First page")[1].split("Second")[0].strip()[:20]


def test_line_end_hyphens_are_joined(tmp_path):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "The results surprised the inter-", fontsize=11)
    page.insert_text((72, 86), "national community of researchers.", fontsize=11)
    page.insert_text((72, 100), "A well-known effect stays hyphen-", fontsize=11)
    page.insert_text((72, 114), "Ated only before capitals.", fontsize=11)
    path = tmp_path / "h.pdf"
    doc.save(path)
    text = extract_pdf(path.read_bytes(), PdfConfig()).text
    assert "international community" in text
    assert "well-known" in text
    assert "hyphen- Ated" in text


def test_reflow_and_page_joins():
    assert reflow(["a sen-", "tence continues", "here."]) == "a sentence continues here."
    assert reflow(["2019-", "2020"]) == "2019- 2020"
    pages = [["First paragraph.", "A sentence that runs"], ["onto the next page.", "New one."]]
    assert (
        join_pages(pages) == "First paragraph.\nA sentence that runs onto the next page.\nNew one."
    )


def test_encrypted(tmp_path):
    path = tmp_path / "locked.pdf"
    write_pdf(path, "Locked", [MAIN_TEXT])
    encrypt_pdf(path)
    with pytest.raises(PdfRejected) as caught:
        extract_pdf(path.read_bytes(), PdfConfig())
    assert caught.value.reason == "pdf_encrypted"


def test_truncated(tmp_path):
    path = tmp_path / "cut.pdf"
    write_pdf(path, "Cut", [MAIN_TEXT] * 3)
    data = path.read_bytes()
    with pytest.raises(PdfRejected) as caught:
        extract_pdf(data[: len(data) // 2], PdfConfig())
    assert caught.value.reason == "pdf_corrupt"


def test_garbage_named_pdf():
    with pytest.raises(PdfRejected) as caught:
        extract_pdf(b"not a pdf at all\n%%EOF\n", PdfConfig())
    assert caught.value.reason == "pdf_corrupt"


def test_image_only(tmp_path):
    path = tmp_path / "scan.pdf"
    write_image_only_pdf(path)
    with pytest.raises(PdfRejected) as caught:
        extract_pdf(path.read_bytes(), PdfConfig())
    assert caught.value.reason == "pdf_no_text"


def test_max_pages(tmp_path):
    path = tmp_path / "long.pdf"
    write_pdf(path, "Long", [f"Page number {i} says hello." for i in range(5)])
    pdf = extract_pdf(path.read_bytes(), PdfConfig(max_pages=2))
    assert "Page number 1" in pdf.text and "Page number 2" not in pdf.text


def test_pdf_date():
    assert pdf_date("D:20240102030405Z") == "2024-01-02"
    assert pdf_date("D:2019") == "2019"
    assert pdf_date("yesterday") is None
    assert pdf_date(None) is None
