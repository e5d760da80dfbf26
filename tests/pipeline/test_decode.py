import codecs

import pytest

from llm_pretrain.pipeline.extract.decode import BinaryContent, decode, looks_binary

TEXT = "Grüße aus Köln – naïve café déjà vu"


def test_declared_charset_wins():
    raw = TEXT.encode("cp1252")
    text, charset = decode(raw, "windows-1252")
    assert text == TEXT
    assert charset == "cp1252"


def test_meta_charset_is_read():
    raw = '<html><head><meta charset="iso-8859-1"></head><body>Grüße aus Köln</body></html>'
    text, charset = decode(raw.encode("latin-1"))
    assert "Grüße aus Köln" in text
    assert codecs.lookup(charset) == codecs.lookup("latin-1")


def test_wrong_declaration_falls_back_to_utf8():
    text, charset = decode(TEXT.encode("utf-8"), "ascii")
    assert text == TEXT
    assert charset == "utf-8"


def test_undeclared_legacy_encoding_is_detected():
    russian = "Съешь же ещё этих мягких французских булок, да выпей чаю. " * 5
    text, _ = decode(russian.encode("cp1251"), html=False)
    assert text == russian


def test_bom_decides():
    text, charset = decode("\ufeff".encode("utf-16-le") + TEXT.encode("utf-16-le"))
    assert text == TEXT
    assert charset == "utf-16"


def test_binary_is_refused():
    assert looks_binary(bytes(range(256)) * 4)
    assert not looks_binary(TEXT.encode())
    with pytest.raises(BinaryContent):
        decode(b"\x00\x01\x02\x03" * 100)
