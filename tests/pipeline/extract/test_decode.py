import codecs

import pytest

from llm_pretrain.pipeline.extract import decode as decode_module
from llm_pretrain.pipeline.extract.decode import BinaryContent, decode, looks_binary

TEXT = "Grüße aus Köln – naïve café déjà vu"

# A few sentences of prose per language, each with the letters that tell its encoding apart, as
# (name, encoding written in, Python codec that decode() should name, text).
LEGACY = [
    (
        "french-cp1252",
        "cp1252",
        "cp1252",
        "À la fin de l’été, nous sommes allés à Lyon pour goûter la cuisine régionale. Le garçon "
        "du café nous a servi un bœuf bourguignon et une crème brûlée « à se damner », le tout "
        "pour 25 € à peine. Ma sœur a préféré la tarte aux pêches, qu’elle a trouvée très légère.",
    ),
    (
        "french-latin1",
        "latin-1",
        "cp1252",
        "Le matin, la boulangère ouvre sa boutique très tôt. Les élèves passent devant la vitrine "
        "en rêvant des croissants dorés, et le maçon du village s'arrête toujours pour acheter "
        "une baguette. « C'est la meilleure de la région », répète-t-il à qui veut l'entendre.",
    ),
    (
        "german",
        "cp1252",
        "cp1252",
        "Die Bürger der kleinen Stadt am Fluss trafen sich jeden Samstag auf dem Marktplatz. Dort "
        "verkaufte ein älterer Herr frische Brötchen, süße Äpfel und würzigen Käse. Er grüßte "
        "jeden, der vorbeiging, und über das Wetter wurde ausführlich gestritten.",
    ),
    (
        "spanish",
        "cp1252",
        "cp1252",
        "¿Has visitado alguna vez el pequeño pueblo de montaña donde nació mi abuela? ¡Es "
        "precioso! En invierno la nieve cubre los tejados y la plaza está vacía; en primavera los "
        "niños corren por el campo. Según los vecinos, allí se cocina el mejor pan de la región.",
    ),
    (
        "polish-cp1250",
        "cp1250",
        "cp1250",
        "Wczoraj wieczorem poszliśmy z żoną na długi spacer wzdłuż rzeki. Źródło niedaleko mostu "
        "było pełne kaczek, a dzieci rzucały im kawałki chleba. Później usiedliśmy w małej "
        "kawiarni, żeby odpocząć, i nikt nie czuł się źle. Ten dzień był naprawdę piękny.",
    ),
    (
        "polish-iso-8859-2",
        "iso-8859-2",
        "iso8859-2",
        "Wczoraj wieczorem poszliśmy z żoną na długi spacer wzdłuż rzeki. Źródło niedaleko mostu "
        "było pełne kaczek, a dzieci rzucały im kawałki chleba. Później usiedliśmy w małej "
        "kawiarni, żeby odpocząć, i nikt nie czuł się źle. Ten dzień był naprawdę piękny.",
    ),
    (
        "czech",
        "cp1250",
        "cp1250",
        "Včera odpoledne jsme se s přáteli vydali na výlet do hor. Cesta vedla přes les, kde "
        "kvetly žluté květiny a zpívali ptáci. Na vrcholu jsme si dali čaj z termosky a dívali se "
        "na údolí, kde se řeka stáčí kolem mlýna. Domů jsme se vrátili až večer, ale šťastní.",
    ),
    (
        "russian",
        "cp1251",
        "cp1251",
        "Вчера вечером мы гуляли по старому парку у реки. Листья уже начали желтеть, и под ногами "
        "приятно шуршала трава. Потом мы зашли в маленькое кафе, где подавали горячий чай с "
        "вареньем и свежие пирожки с капустой.",
    ),
    (
        "japanese",
        "shift_jis",
        "cp932",
        "昨日は友達と一緒に京都へ行きました。古いお寺を見て回り、抹茶のお菓子を食べました。"
        "夕方になると町の灯りがともり、とても美しい景色でした。また来年も訪れたいと思います。",
    ),
]


def _undeclared(text: str, html: bool) -> str:
    return f"<html><body><p>{text}</p></body></html>" if html else text


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


@pytest.mark.parametrize("html", [True, False], ids=["html", "text"])
@pytest.mark.parametrize(
    ("encoding", "expected", "prose"), [s[1:] for s in LEGACY], ids=[s[0] for s in LEGACY]
)
def test_undeclared_legacy_pages_decode_as_a_browser_would(encoding, expected, prose, html):
    page = _undeclared(prose, html)
    text, charset = decode(page.encode(encoding), html=html)
    assert text == page
    assert charset == expected


@pytest.mark.parametrize("html", [True, False], ids=["html", "text"])
def test_utf8_stays_utf8(html):
    for _, _, _, prose in LEGACY:
        page = _undeclared(prose, html)
        assert decode(page.encode("utf-8"), html=html) == (page, "utf-8")


def test_utf8_never_reaches_detection(monkeypatch):
    def no_detection(raw: bytes) -> str:
        raise AssertionError("UTF-8 went to detection")

    monkeypatch.setattr(decode_module, "detect", no_detection)
    for _, _, _, prose in LEGACY:
        assert decode(_undeclared(prose, True).encode("utf-8"))[1] == "utf-8"


def test_utf8_with_a_few_stray_bytes_stays_utf8():
    prose = LEGACY[0][3]
    page = f"<html><body><p>{prose}</p>".encode() + b"<footer>Caf\xe9 2003</footer></html>"
    text, charset = decode(page)
    assert charset == "utf-8"
    assert prose in text and "Caf\ufffd 2003" in text
    # The other way round, a UTF-8 menu above a windows-1252 article: the article wins.
    page = "<nav>Über uns · © 2003</nav>".encode() + f"<p>{prose}</p>".encode("cp1252")
    text, charset = decode(page)
    assert charset == "cp1252"
    assert prose in text


def test_short_snippets():
    # One short sentence is enough when its letters exist in one encoding only.
    for sentence, encoding, expected in [
        ("Déjà vu, garçon, l’été.", "cp1252", "cp1252"),
        ("Cześć, co słychać?", "cp1250", "cp1250"),  # 18 bytes
        ("Děkuji, příště.", "cp1250", "cp1250"),
        ("Привет, мир!", "cp1251", "cp1251"),
    ]:
        assert decode(sentence.encode(encoding), html=False) == (sentence, expected)
    # Ambiguous: the only non-ASCII letter of this 19-byte Polish snippet is "ę" (0xEA), which is
    # "ê" in windows-1252 and its Western neighbours. Without a hint (a .pl domain) Firefox's
    # detector, and so decode(), reads it the Western way: "Jutro bêdê w pracy." (today as
    # windows-1254). A longer text with ł, ś, ż or ą is read right (the cases above).
    snippet = "Jutro będę w pracy.".encode("cp1250")
    text, _ = decode(snippet, html=False)
    assert text in ("Jutro będę w pracy.", snippet.decode("cp1252"))


def test_declared_latin1_is_read_as_windows_1252():
    # Encoding Standard: "iso-8859-1", "latin1" and "us-ascii" are labels of windows-1252.
    raw = "Il m’a dit « l’été coûte 25 € » – rien de plus.".encode("cp1252")
    for declared in ("iso-8859-1", "latin1", "ISO_8859-1"):
        assert decode(raw, declared) == (raw.decode("cp1252"), "cp1252")
    page = b'<html><head><meta charset="iso-8859-1"></head><body>' + raw + b"</body></html>"
    text, charset = decode(page)
    assert "« l’été coûte 25 € »" in text and charset == "cp1252"
    # Without bytes 0x80-0x9F both read the same: the declared name is kept.
    assert decode("Grüße".encode("latin-1"), "latin-1") == ("Grüße", "iso8859-1")
    # The five bytes windows-1252 leaves unassigned are the C1 code points of the same value.
    assert decode(b"a\x81b\x9dc", "windows-1252") == ("a\x81b\x9dc", "cp1252")


def test_declared_ascii_with_legacy_bytes_is_detected():
    # A byte above 0x7F proves an ASCII declaration wrong: UTF-8, then detection decide.
    raw = "Déjà vu, garçon : l’été à Paris.".encode("cp1252")
    assert decode(raw, "us-ascii") == (raw.decode("cp1252"), "cp1252")


def test_declared_labels_use_the_browsers_wider_codec():
    # Python's shift_jis has no NEC row 13 (①); the Encoding Standard's Shift_JIS does (cp932).
    raw = "①番の窓口へどうぞ".encode("cp932")
    assert decode(raw, "Shift_JIS") == ("①番の窓口へどうぞ", "cp932")
    assert decode("北京欢迎您".encode("gb2312"), "gb2312") == ("北京欢迎您", "gb2312")


def test_labels_that_no_page_can_use_are_ignored():
    for declared in ("base64", "rot13", "utf-7", "no-such-charset"):
        assert decode(TEXT.encode("utf-8"), declared) == (TEXT, "utf-8")


def test_bom_decides():
    text, charset = decode("\ufeff".encode("utf-16-le") + TEXT.encode("utf-16-le"))
    assert text == TEXT
    assert charset == "utf-16"


def test_binary_is_refused():
    assert looks_binary(bytes(range(256)) * 4)
    assert not looks_binary(TEXT.encode())
    with pytest.raises(BinaryContent):
        decode(b"\x00\x01\x02\x03" * 100)


def test_a_declared_charset_with_a_stray_byte_is_kept_as_a_browser_keeps_it():
    """One cp1252 dash in a page declared UTF-8: the page stays UTF-8, the dash becomes U+FFFD
    (read as cp1252 the whole page would be garbled: "CafÃ©")."""
    text = "Café crème brûlée, une phrase assez longue pour une vraie page de texte. " * 3
    raw = text.encode() + b"\x96" + b" fin."
    decoded, charset = decode(raw, "utf-8")
    assert charset == "utf-8" and decoded == text + "\ufffd fin."
    page = b'<html><head><meta charset="utf-8"></head><body>' + raw + b"</body></html>"
    assert text in decode(page)[0]
    japanese = "これは日本語のテキストです。" * 10
    decoded, charset = decode(japanese.encode("shift_jis") + b"\x80", "shift_jis")
    assert charset == "cp932" and decoded.startswith(japanese)


def test_a_declaration_most_bytes_contradict_is_ignored():
    russian = "Съешь же ещё этих мягких французских булок, да выпей чаю. " * 5
    text, charset = decode(russian.encode("cp1251"), "utf-8")
    assert (text, charset) == (russian, "cp1251")


def test_a_meta_that_declares_utf16_in_ascii_bytes_is_read_as_utf8():
    """The HTML standard's prescan: a <meta> UTF-16 label is read as UTF-8 (the bytes that
    spelled it were not UTF-16)."""
    from llm_pretrain.pipeline.extract.decode import decode

    page = '<html><head><meta charset="UTF-16"></head><body>Café au lait</body></html>'
    text, codec = decode(page.encode("utf-8"))
    assert "Café au lait" in text and codec == "utf-8"
