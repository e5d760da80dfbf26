import pytest
from pydantic import ValidationError

from llm_pretrain.pipeline.filters.pii import PiiMasking, PiiMaskingConfig
from llm_pretrain.pipeline.limits import time_limit
from tests.pipeline.filters.documents import doc_of
from tests.pipeline.filters.samples import ENGLISH


def mask(text: str, **config) -> str:
    doc = doc_of(id="x", text=text)
    assert PiiMasking(PiiMaskingConfig(**config)).apply(doc) is None
    return doc.text


@pytest.mark.parametrize(
    "text, expected",
    [
        ("john@example.com", "<EMAIL>"),
        ("Mail jane.doe+news@mail.example.co.uk.", "Mail <EMAIL>."),
        ("(john_smith@example.org), or", "(<EMAIL>), or"),
        ("<a href='mailto:info@example.com'>", "<a href='mailto:<EMAIL>'>"),
        ("Write to First.Last@Example.COM today", "Write to <EMAIL> today"),
        ("contact: a-b%c@sub-domain.example.io;", "contact: <EMAIL>;"),
        ("user@xn--80ak6aa92e.xn--p1ai", "<EMAIL>"),
        ("请联系john@example.com谢谢", "请联系<EMAIL>谢谢"),
        ("see...john@example.com", "see...<EMAIL>"),
        ("a@example.com,b@example.net", "<EMAIL>,<EMAIL>"),
    ],
)
def test_masks_emails(text, expected):
    assert mask(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "logo@2x.png",
        "sprite@1.5x.webp and icon@3x.jpg",
        "bundle@main.js",
        "user@localhost",
        "https://medium.com/@user/a-post-title",
        "https://cdn.jsdelivr.net/npm/bootstrap@5.3.0/dist/css/bootstrap.min.css",
        "https://www.google.com/maps/@40.7128,-74.0060,15z",
        "npm install @babel/core and follow @user on social media",
        "pkg@1.2.3",
        "a @ b.com",
        "email@",
        "@example.com",
    ],
)
def test_leaves_email_lookalikes(text):
    assert mask(text) == text


@pytest.mark.parametrize(
    "text, expected",
    [
        ("(555) 123-4567", "<PHONE>"),
        ("(555)123-4567", "<PHONE>"),
        ("555-123-4567", "<PHONE>"),
        ("555.123.4567", "<PHONE>"),
        ("+1 555 123 4567", "<PHONE>"),
        ("+1-555-123-4567", "<PHONE>"),
        ("+1 (555) 123-4567", "<PHONE>"),
        ("+15551234567", "<PHONE>"),
        ("1-555-123-4567", "<PHONE>"),
        ("1 (555) 123-4567", "<PHONE>"),
        ("+44 20 7946 0958", "<PHONE>"),
        ("+44 (0)20 7946 0958", "<PHONE>"),
        ("+49 30 123456", "<PHONE>"),
        ("+49 (30) 123456", "<PHONE>"),
        ("+33 1 23 45 67 89", "<PHONE>"),
        ("+33.1.23.45.67.89", "<PHONE>"),
        ("+81-3-1234-5678", "<PHONE>"),
        ("+442079460958", "<PHONE>"),
        ("Call 555-123-4567 24/7.", "Call <PHONE> 24/7."),
        ("Tel: +44 20 7946 0958, fax: +44 20 7946 0959.", "Tel: <PHONE>, fax: <PHONE>."),
        ("phone:(555) 123-4567)", "phone:<PHONE>)"),
        ("tel:+1-555-123-4567", "tel:<PHONE>"),
        ("Numbers 555-123-4567\n555.765.4321", "Numbers <PHONE>\n<PHONE>"),
        ("Call +44 20 7946 0958 24/7.", "Call <PHONE> 24/7."),
        ("+1 (555) 123-4567 1-555-123-4567", "<PHONE> <PHONE>"),
    ],
)
def test_masks_phones(text, expected):
    assert mask(text) == expected


@pytest.mark.parametrize(
    "text",
    ["(283)-182-3829", "(283) 182 3829", "(283)182-3829", "(283).182.3829", "(283) 182.3829"],
)
def test_masks_parenthesised_area_code_with_any_separator(text):
    assert mask(text) == "<PHONE>"
    assert mask(f"Call {text}, or 1-{text}.") == "Call <PHONE>, or <PHONE>."


@pytest.mark.parametrize(
    "text", ["2831823829", "12831823829", "Order 2831823829 shipped.", "ts=2831823829"]
)
def test_leaves_bare_digit_runs_by_default(text):
    assert not PiiMaskingConfig().mask_bare_digit_runs
    assert mask(text) == text


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2831823829", "<PHONE>"),
        ("12831823829", "<PHONE>"),
        ("Call 2831823829.", "Call <PHONE>."),
        ("(283)-182-3829 or 2831823829", "<PHONE> or <PHONE>"),
        # still not: too short or long, area code 0/1, glued to letters, decimals, codes
        ("1823829 128318238290 0231823829 1231823829", None),
        ("x2831823829 2831823829x 3.2831823829 2831823829.5 SKU-2831823829", None),
    ],
)
def test_mask_bare_digit_runs_setting(text, expected):
    assert mask(text, mask_bare_digit_runs=True) == (text if expected is None else expected)


def test_bare_digit_runs_count_as_phones():
    step = PiiMasking(PiiMaskingConfig(mask_bare_digit_runs=True))
    doc = doc_of(id="x", text="2831823829 and (283).182.3829")
    step.apply(doc)
    assert doc.metadata["pii"] == {"phone": 2}
    assert "bare" in PiiMaskingConfig.model_fields["mask_bare_digit_runs"].description


@pytest.mark.parametrize(
    "text",
    [
        "555 123 4567",  # a table row as much as a number
        "5551234567",
        "155-123-4567",  # no area code starts with 1
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5500 0000 0000 0004",
        "SKU-555-123-4567",
        "X555-123-4567",
        "555-123-4567-89",
        "(555)-123-4567-89",
        "(555)/123-4567",
        "(5555) 123-4567",
        "123-456-7890-1234",
        "+44 20 7946 0958abc",
        "+2024-01-15",
        "+10.5 20.3 30.1",
        "+1000 people",
        "+1 000",
        "C++ 11 and 1e+10",
        "2024-01-15T12:30:45+01:00",
        "UTC+05:30",
    ],
)
def test_leaves_phone_lookalikes(text):
    assert mask(text) == text


@pytest.mark.parametrize(
    "text, expected",
    [
        ("192.168.1.1", "<IPV4>"),
        ("Server 8.8.8.8 replied.", "Server <IPV4> replied."),
        ("at 10.0.0.1.", "at <IPV4>."),
        ("8.8.4.4:53, 10.0.0.0/8", "<IPV4>:53, <IPV4>/8"),
        ("(255.255.255.255)", "(<IPV4>)"),
        ("from 172.16.0.1-172.16.0.9", "from <IPV4>-<IPV4>"),
        ("version 10.0.0.1", "version <IPV4>"),  # a valid quad is masked, whatever it is
    ],
)
def test_masks_ipv4(text, expected):
    assert mask(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2001:db8::1", "<IPV6>"),
        ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "<IPV6>"),
        ("2001:DB8:0:0:8:800:200C:417A", "<IPV6>"),
        ("::ffff:192.0.2.1", "<IPV6>"),
        ("64:ff9b::192.0.2.33", "<IPV6>"),
        ("fe80::1%eth0", "<IPV6>%eth0"),
        ("http://[2001:db8::1]:8080/", "http://[<IPV6>]:8080/"),
        ("Addresses 2001:db8:: and fe80::200:f8ff:fe21:67cf.", "Addresses <IPV6> and <IPV6>."),
    ],
)
def test_masks_ipv6(text, expected):
    assert mask(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "12:30",
        "12:30:45",
        "at 08:15:00.123 UTC",
        "John 3:16 and a ratio of 1:2:3",
        "std::vector, Foo::Bar, Add::Bad, dead::beef",
        "a[1::2], x[::2], y[::-1]",
        "00:1A:2B:3C:4D:5E",
        "16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48",
        "::",
    ],
)
def test_leaves_ipv6_lookalikes(text):
    assert mask(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "In 2024 there were 1,000,000 visitors and 42 exhibitions.",
        "Dates: 2024-01-15, 15/01/2024, 01.02.2024, 1/2/24, 2024.01.15.",
        "Times: 12:30, 12:30:45, 9:05 pm.",
        "Versions v1.2.3, 3.11.7, 10.0.0, 1.2.3.4.5, v1.2.3.4, Chrome/120.0.6099.109.",
        "Not addresses: 999.1.1.1, 256.0.0.1, 192.168.001.001, 1.2.3.",
        "Prices $1,234.56, €12.99, 1.234,56 €, £3.50.",
        "ISBN 978-3-16-148410-0, ISBN 0-306-40615-2, 978-0-306-40615-7.",
        "The years 1990-2000 and the range 10-20.",
        "Product code AB-1234-5678, part 12-345-67, model X-2000.",
        "Loopback 127.0.0.1, any 0.0.0.0 and ::1 stay.",
        "Coordinates 40.7128, -74.0060 and 51.5074 N.",
        "Phone-like 1234-5678 and 12 34 56 78.",
        ENGLISH,
    ],
)
def test_leaves_ordinary_text(text):
    doc = doc_of(id="x", text=text)
    step = PiiMasking(PiiMaskingConfig())
    assert step.apply(doc) is None
    assert doc.text == text
    assert "pii" not in doc.metadata
    assert not step.counts


def test_counts_in_stats_and_metadata():
    step = PiiMasking(PiiMaskingConfig())
    first = doc_of(
        id="a",
        text="Mail a@example.com or b@example.org, call +44 20 7946 0958 from 203.0.113.9",
    )
    second = doc_of(id="b", text="Host 2001:db8::1 and 198.51.100.7, 198.51.100.8.")
    plain = doc_of(id="c", text=ENGLISH, metadata={"other": 1})
    for doc in (first, second, plain):
        assert step.apply(doc) is None
    assert first.text == "Mail <EMAIL> or <EMAIL>, call <PHONE> from <IPV4>"
    assert first.metadata["pii"] == {"email": 2, "phone": 1, "ipv4": 1}
    assert second.metadata["pii"] == {"ipv6": 1, "ipv4": 2}
    assert plain.metadata == {"other": 1}
    assert step.counts == {"email": 2, "phone": 1, "ipv4": 3, "ipv6": 1}


def test_text_start_end_and_punctuation():
    text = "+1 555 123 4567:john@example.com;[10.1.2.3],'2001:db8::7'\n(555) 123-4567"
    assert mask(text) == "<PHONE>:<EMAIL>;[<IPV4>],'<IPV6>'\n<PHONE>"


def test_disabled_types_are_untouched():
    text = "a@example.com +44 20 7946 0958 203.0.113.9 2001:db8::1"
    assert mask(text, emails=False) == "a@example.com <PHONE> <IPV4> <IPV6>"
    assert mask(text, phones=False) == "<EMAIL> +44 20 7946 0958 <IPV4> <IPV6>"
    assert mask(text, ipv4=False) == "<EMAIL> <PHONE> 203.0.113.9 <IPV6>"
    assert mask(text, ipv6=False) == "<EMAIL> <PHONE> <IPV4> 2001:db8::1"
    off = {"emails": False, "phones": False, "ipv4": False, "ipv6": False}
    assert mask(text, **off) == text


def test_embedded_ipv4_is_one_ipv6_address():
    doc = doc_of(id="x", text="mapped ::ffff:203.0.113.9 here")
    PiiMasking(PiiMaskingConfig()).apply(doc)
    assert doc.text == "mapped <IPV6> here"
    assert doc.metadata["pii"] == {"ipv6": 1}


def test_custom_placeholders_and_skip_list():
    config = {
        "email_placeholder": "[email]",
        "phone_placeholder": "\\1",  # taken literally, not as a regex group reference
        "ipv4_placeholder": "",
        "skip_ips": ["10.0.0.1", "2001:db8::1"],
    }
    text = "x@example.com 555-123-4567 10.0.0.1 10.0.0.2 2001:db8:0:0:0:0:0:1 127.0.0.1"
    assert mask(text, **config) == "[email] \\1 10.0.0.1  2001:db8:0:0:0:0:0:1 "
    assert mask("::1 and 0:0:0:0:0:0:0:1") == "::1 and 0:0:0:0:0:0:0:1"


def test_config_is_strict():
    defaults = PiiMaskingConfig()
    assert defaults.emails and defaults.phones and defaults.ipv4 and defaults.ipv6
    assert defaults.skip_ips == ["127.0.0.1", "0.0.0.0", "::1"]
    with pytest.raises(ValidationError):
        PiiMaskingConfig(emails=True, email=False)  # unknown key
    with pytest.raises(ValidationError):
        PiiMaskingConfig(phones="yes")  # strict types
    with pytest.raises(ValidationError):
        PiiMaskingConfig(skip_ips=["localhost"])
    assert all(field.description for field in PiiMaskingConfig.model_fields.values())
    assert PiiMasking.name == "pii" and PiiMasking.config_class is PiiMaskingConfig


@pytest.mark.parametrize(
    "text",
    [
        "a@" * 50_000,
        "@" * 100_000,
        "a." * 50_000 + "@example.com",
        "1." * 50_000,
        "1-" * 50_000,
        "+1 " * 30_000 + "x",
        "1:" * 50_000,
        "ab:" * 30_000,
    ],
)
def test_pathological_inputs_stay_linear(text):
    # A quadratic pattern on these inputs runs for minutes, a linear one for milliseconds: the
    # limit is a hang guard far from either, not a speed claim (the machine may be loaded).
    with time_limit(30):
        PiiMasking(PiiMaskingConfig()).apply(doc_of(id="x", text=text))
