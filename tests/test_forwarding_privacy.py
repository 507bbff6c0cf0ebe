"""gateway.forwarding.privacy: the per-vendor privacy transforms and the e-mail/phone hashing rules."""

import pytest

from gateway.forwarding import privacy
from gateway.forwarding.privacy import Transforms

# Meta's own examples (customer information parameters page): the normalised form and its SHA-256.
META_EMAIL_SHA = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"   # john_smith@gmail.com
META_PHONE_SHA = "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"   # 16505551212

CHROME_WIN = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/124.0.6367.91 Safari/537.36")
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1")
EDGE_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67")
FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0"
CHROME_IOS = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1")


def test_defaults_send_everything_the_vendor_accepts():
    assert Transforms.from_config(None) == Transforms("send", "send", False, False, True)
    assert Transforms.from_config({}) == Transforms()


def test_from_config_reads_every_key():
    t = Transforms.from_config({"ip": "truncate", "user_agent": "reduce", "strip_query": True,
                                "strip_referrer": True, "user_data": False})
    assert (t.ip, t.user_agent, t.strip_query, t.strip_referrer, t.user_data) == \
        ("truncate", "reduce", True, True, False)


@pytest.mark.parametrize("mapping, named", [
    ({"ip": "truncated"}, "privacy.ip"),
    ({"user_agent": "strip"}, "privacy.user_agent"),
    ({"strip_query": "yes"}, "privacy.strip_query"),
    ({"user_data": 1}, "privacy.user_data"),
    ({"ip_mode": "omit"}, "privacy.ip_mode"),
])
def test_from_config_names_the_bad_key(mapping, named):
    with pytest.raises(ValueError) as info:
        Transforms.from_config(mapping)
    assert named in str(info.value)


def test_from_config_refuses_a_non_mapping():
    with pytest.raises(ValueError, match="mapping"):
        Transforms.from_config(["ip", "omit"])


@pytest.mark.parametrize("ip, mode, expected", [
    ("203.0.113.57", "send", "203.0.113.57"),
    ("203.0.113.57", "truncate", "203.0.113.0"),
    ("203.0.113.57", "omit", ""),
    ("2001:db8:85a3:8d3:1319:8a2e:370:7348", "truncate", "2001:db8:85a3::"),
    ("2001:DB8:85A3::7348", "send", "2001:db8:85a3::7348"),
    (" 198.51.100.7 ", "truncate", "198.51.100.0"),
    ("::ffff:198.51.100.7", "truncate", "198.51.100.0"),   # IPv4-mapped: a dual-stack server's IPv4 visitor
    ("::ffff:198.51.100.7", "send", "198.51.100.7"),
    ("not-an-ip", "send", ""),
    ("300.1.2.3", "truncate", ""),
    ("", "send", ""),
])
def test_client_ip(ip, mode, expected):
    assert privacy.client_ip(ip, mode) == expected


@pytest.mark.parametrize("ua, expected", [
    (CHROME_WIN, "Mozilla/5.0 (Windows) Chrome/124"),
    (SAFARI_IPHONE, "Mozilla/5.0 (iOS) Safari/17"),
    (EDGE_MAC, "Mozilla/5.0 (macOS) Edge/124"),
    (FIREFOX_ANDROID, "Mozilla/5.0 (Android) Firefox/125"),
    (CHROME_IOS, "Mozilla/5.0 (iOS) Chrome/124"),
    ("curl/8.5.0", ""),
    ("", ""),
])
def test_reduced_user_agent(ua, expected):
    assert privacy.user_agent(ua, "reduce") == expected


def test_user_agent_send_is_untouched():
    assert privacy.user_agent(CHROME_WIN, "send") == CHROME_WIN


@pytest.mark.parametrize("url, strip, expected", [
    ("https://shop.example/thanks?order=123&email=a%40b.c#top", False, "https://shop.example/thanks?order=123&email=a%40b.c"),
    ("https://shop.example/thanks?order=123#top", True, "https://shop.example/thanks"),
    ("https://shop.example/", True, "https://shop.example/"),
    ("", True, ""),
])
def test_page_url(url, strip, expected):
    assert privacy.page_url(url, strip) == expected


def test_referrer():
    ref = "https://search.example/q?s=red+shoes#x"
    assert privacy.referrer(ref, strip=True) == ""
    assert privacy.referrer(ref, strip=False) == "https://search.example/q?s=red+shoes"
    assert privacy.referrer(ref, strip=False, strip_query=True) == "https://search.example/q"


@pytest.mark.parametrize("raw, expected", [
    ("  John_Smith@Gmail.COM ", "john_smith@gmail.com"),
    ("john_smith@gmail.com", "john_smith@gmail.com"),
])
def test_normalized_email(raw, expected):
    assert privacy.normalized_email(raw) == expected


@pytest.mark.parametrize("raw, vendor, expected", [
    ("+1 (650) 555-1212", "meta_pixel", "16505551212"),
    ("+1 (650) 555-1212", "tiktok_pixel", "+16505551212"),
    ("0044 20 7946 0958", "meta_pixel", "442079460958"),
    ("+49 (0)30-1234 5678", "tiktok_pixel", "+4903012345678"),   # "(0)" is kept: we do not parse numbering plans
    ("tel: ext.", "meta_pixel", ""),
])
def test_normalized_phone(raw, vendor, expected):
    assert privacy.normalized_phone(raw, vendor) == expected


def test_hashes_match_metas_documented_examples():
    on = Transforms()
    assert privacy.hashed_email(" John_Smith@gmail.com ", on) == META_EMAIL_SHA
    assert privacy.hashed_phone("+1 (650) 555-1212", "meta_pixel", on) == META_PHONE_SHA
    assert privacy.sha256_hex("16505551212") == META_PHONE_SHA


def test_tiktok_phone_hash_covers_the_plus():
    assert privacy.hashed_phone("+1 650 555 1212", "tiktok_pixel", Transforms()) == \
        privacy.sha256_hex("+16505551212")
    assert privacy.hashed_phone("+1 650 555 1212", "tiktok_pixel", Transforms()) != META_PHONE_SHA


def test_already_hashed_values_pass_through_lower_cased():
    on = Transforms()
    assert privacy.hashed_email(META_EMAIL_SHA.upper(), on) == META_EMAIL_SHA
    assert privacy.hashed_phone(META_PHONE_SHA, "tiktok_pixel", on) == META_PHONE_SHA


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_nothing_to_hash_gives_nothing(raw):
    assert privacy.hashed_email(raw, Transforms()) == ""
    assert privacy.hashed_phone(raw, "meta_pixel", Transforms()) == ""


def test_user_data_off_sends_no_hash_even_when_given():
    off = Transforms(user_data=False)
    assert privacy.hashed_email("a@b.example", off) == ""
    assert privacy.hashed_phone("+1 650 555 1212", "meta_pixel", off) == ""
    assert privacy.hashed_email(META_EMAIL_SHA, off) == ""
