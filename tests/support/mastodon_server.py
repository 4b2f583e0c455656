"""A small Mastodon API server for tests (stdlib + ``regex`` only).

No real Mastodon can be installed on the test machines, so the bot's tests run the real
``mastodon.Mastodon`` client against this server.  It implements the slice of the API the bot
uses, shaped after real Mastodon 4.6.4 responses (see ``tests/test_mastodon_contract.py``, which
replays recorded interactions against it):

* ``GET /api/v2/instance`` and ``GET /api/v1/instance`` (with or without a trailing slash);
* ``GET /api/v1/accounts/verify_credentials``, ``GET /api/v1/accounts/:id``,
  ``GET /api/v1/accounts/lookup?acct=``, ``GET /api/v1/accounts/:id/statuses``,
  ``GET /api/v1/timelines/home`` (the account's own statuses; there are no follows here);
* ``POST /api/v1/statuses`` (form or JSON body) with Mastodon's length counting, language
  cascade, visibility, spoiler text, replies and the ``Idempotency-Key`` header;
* ``GET /api/v1/statuses/:id`` and ``DELETE /api/v1/statuses/:id``;
* rate limits with ``X-RateLimit-*`` headers (fixed windows aligned like Rack::Attack), 429
  ``{"error":"Too many requests"}`` without ``Retry-After``;
* fault injection (429, 500/502/503, dropped connections, lost responses, delays) and an
  injectable clock.

Usage::

    with MastodonTestServer() as server:
        server.add_account("token-1", "bot")
        api = Mastodon(access_token="token-1", api_base_url=server.base_url,
                       ratelimit_method="throw", request_timeout=5)
        api.status_post("Hello", idempotency_key="k1")
        server.inject("lost_response")          # next POST /api/v1/statuses is lost
        assert server.statuses("bot")[0]["content"] == "<p>Hello</p>"

Not implemented (answered with 404 or 422, never silently ignored): media uploads, polls,
scheduled statuses, edits, follows, notifications, streaming.
"""

from __future__ import annotations

import contextlib
import fnmatch
import itertools
import json
import socket
import threading
import traceback
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, cast, get_args
from urllib.parse import parse_qs, urlencode, urlsplit

import regex

__all__ = [
    "FAULT_KINDS",
    "FaultKind",
    "InjectedFault",
    "MastodonTestServer",
    "RateLimit",
    "RecordedRequest",
    "count_status_length",
    "render_status_content",
]

# --------------------------------------------------------------------------------------------
# Status length counting and content formatting (Mastodon's StatusLengthValidator and
# TextFormatter, with twitter-text's URL extraction).
# --------------------------------------------------------------------------------------------

# Top-level domains known to twitter-text (which Mastodon uses to find URLs).  A URL only gets
# the fixed ``characters_reserved_per_url`` length (and a link) when its TLD is real.
_TLD_TEXT = (
    "aaa aarp abarth abb abbott abbvie abc able abogado abudhabi ac academy accenture "
    "accountant accountants aco active actor ad adac ads adult ae aeg aero aetna af "
    "afamilycompany afl africa ag agakhan agency ai aig aigo airbus airforce airtel akdn al "
    "alfaromeo alibaba alipay allfinanz allstate ally alsace alstom am americanexpress "
    "americanfamily amex amfam amica amsterdam an analytics android anquan anz ao aol "
    "apartments app apple aq aquarelle ar arab aramco archi army arpa art arte as asda asia "
    "associates at athleta attorney au auction audi audible audio auspost author auto autos "
    "avianca aw aws ax axa az azure ba baby baidu banamex bananarepublic band bank bar "
    "barcelona barclaycard barclays barefoot bargains baseball basketball bauhaus bayern bb bbc "
    "bbt bbva bcg bcn bd be beats beauty beer bentley berlin best bestbuy bet bf bg bh bharti "
    "bi bible bid bike bing bingo bio biz bj bl black blackfriday blanco blockbuster blog "
    "bloomberg blue bm bms bmw bn bnl bnpparibas bo boats boehringer bofa bom bond boo book "
    "booking boots bosch bostik boston bot boutique box bq br bradesco bridgestone broadway "
    "broker brother brussels bs bt budapest bugatti build builders business buy buzz bv bw by "
    "bz bzh ca cab cafe cal call calvinklein cam camera camp cancerresearch canon capetown "
    "capital capitalone car caravan cards care career careers cars cartier casa case caseih "
    "cash casino cat catering catholic cba cbn cbre cbs cc cd ceb center ceo cern cf cfa cfd cg "
    "ch chanel channel charity chase chat cheap chintai chloe christmas chrome chrysler church "
    "ci cipriani circle cisco citadel citi citic city cityeats ck cl claims cleaning click "
    "clinic clinique clothing cloud club clubmed cm cn co coach codes coffee college cologne "
    "com comcast commbank community company compare computer comsec condos construction "
    "consulting contact contractors cooking cookingchannel cool coop corsica country coupon "
    "coupons courses cpa cr credit creditcard creditunion cricket crown crs cruise cruises csc "
    "cu cuisinella cv cw cx cy cymru cyou cz dabur dad dance data date dating datsun day dclk "
    "dds de deal dealer deals degree delivery dell deloitte delta democrat dental dentist desi "
    "design dev dhl diamonds diet digital direct directory discount discover dish diy dj dk dm "
    "dnp do docs doctor dodge dog doha domains doosan dot download drive dtv dubai duck dunlop "
    "duns dupont durban dvag dvr dz earth eat ec eco edeka edu education ee eg eh email emerck "
    "energy engineer engineering enterprises epost epson equipment er ericsson erni es esq "
    "estate esurance et etisalat eu eurovision eus events everbank exchange expert exposed "
    "express extraspace fage fail fairwinds faith family fan fans farm farmers fashion fast "
    "fedex feedback ferrari ferrero fi fiat fidelity fido film final finance financial fire "
    "firestone firmdale fish fishing fit fitness fj fk flickr flights flir florist flowers "
    "flsmidth fly fm fo foo food foodnetwork football ford forex forsale forum foundation fox "
    "fr free fresenius frl frogans frontdoor frontier ftr fujitsu fujixerox fun fund furniture "
    "futbol fyi ga gal gallery gallo gallup game games gap garden gay gb gbiz gd gdn ge gea "
    "gent genting george gf gg ggee gh gi gift gifts gives giving gl glade glass gle global "
    "globo gm gmail gmbh gmo gmx gn godaddy gold goldpoint golf goo goodhands goodyear goog "
    "google gop got gov gp gq gr grainger graphics gratis green gripe grocery group gs gt gu "
    "guardian gucci guge guide guitars guru gw gy hair hamburg hangout haus hbo hdfc hdfcbank "
    "health healthcare help helsinki here hermes hgtv hiphop hisamitsu hitachi hiv hk hkt hm hn "
    "hockey holdings holiday homedepot homegoods homes homesense honda honeywell horse hospital "
    "host hosting hot hoteles hotels hotmail house how hr hsbc ht htc hu hughes hyatt hyundai "
    "ibm icbc ice icu id ie ieee ifm iinet ikano il im imamat imdb immo immobilien in inc "
    "industries infiniti info ing ink institute insurance insure int intel international intuit "
    "investments io ipiranga iq ir irish is iselect ismaili ist istanbul it itau itv iveco iwc "
    "jaguar java jcb jcp je jeep jetzt jewelry jio jlc jll jm jmp jnj jo jobs joburg jot joy jp "
    "jpmorgan jprs juegos juniper kaufen kddi ke kerryhotels kerrylogistics kerryproperties kfh "
    "kg kh ki kia kim kinder kindle kitchen kiwi km kn koeln komatsu kosher kp kpmg kpn kr krd "
    "kred kuokgroup kw ky kyoto kz la lacaixa ladbrokes lamborghini lamer lancaster lancia "
    "lancome land landrover lanxess lasalle lat latino latrobe law lawyer lb lc lds lease "
    "leclerc lefrak legal lego lexus lgbt li liaison lidl life lifeinsurance lifestyle lighting "
    "like lilly limited limo lincoln linde link lipsy live living lixil lk llc llp loan loans "
    "locker locus loft lol london lotte lotto love lpl lplfinancial lr ls lt ltd ltda lu "
    "lundbeck lupin luxe luxury lv ly ma macys madrid maif maison makeup man management mango "
    "map market marketing markets marriott marshalls maserati mattel mba mc mcd mcdonalds "
    "mckinsey md me med media meet melbourne meme memorial men menu meo merckmsd metlife mf mg "
    "mh miami microsoft mil mini mint mit mitsubishi mk ml mlb mls mm mma mn mo mobi mobile "
    "mobily moda moe moi mom monash money monster montblanc mopar mormon mortgage moscow moto "
    "motorcycles mov movie movistar mp mq mr ms msd mt mtn mtpc mtr mu museum mutual mutuelle "
    "mv mw mx my mz na nab nadex nagoya name nationwide natura navy nba nc ne nec net netbank "
    "netflix network neustar new newholland news next nextdirect nexus nf nfl ng ngo nhk ni "
    "nico nike nikon ninja nissan nissay nl no nokia northwesternmutual norton now nowruz nowtv "
    "np nr nra nrw ntt nu nyc nz obi observer off office okinawa olayan olayangroup oldnavy "
    "ollo om omega one ong onion onl online onyourside ooo open oracle orange org organic "
    "orientexpress origins osaka otsuka ott ovh pa page pamperedchef panasonic panerai paris "
    "pars partners parts party passagens pay pccw pe pet pf pfizer pg ph pharmacy phd philips "
    "phone photo photography photos physio piaget pics pictet pictures pid pin ping pink "
    "pioneer pizza pk pl place play playstation plumbing plus pm pn pnc pohl poker politie porn "
    "post pr pramerica praxi press prime pro prod productions prof progressive promo properties "
    "property protection pru prudential ps pt pub pw pwc py qa qpon quebec quest qvc racing "
    "radio raid re read realestate realtor realty recipes red redstone redumbrella rehab reise "
    "reisen reit reliance ren rent rentals repair report republican rest restaurant review "
    "reviews rexroth rich richardli ricoh rightathome ril rio rip rmit ro rocher rocks rodeo "
    "rogers room rs rsvp ru rugby ruhr run rw rwe ryukyu sa saarland safe safety sakura sale "
    "salon samsclub samsung sandvik sandvikcoromant sanofi sap sapo sarl sas save saxo sb sbi "
    "sbs sc sca scb schaeffler schmidt scholarships school schule schwarz science scjohnson "
    "scor scot sd se search seat secure security seek select sener services ses seven sew sex "
    "sexy sfr sg sh shangrila sharp shaw shell shia shiksha shoes shop shopping shouji show "
    "showtime shriram si silk sina singles site sj sk ski skin sky skype sl sling sm smart "
    "smile sn sncf so soccer social softbank software sohu solar solutions song sony soy space "
    "spiegel sport spot spreadbetting sr srl srt ss st stada staples star starhub statebank "
    "statefarm statoil stc stcgroup stockholm storage store stream studio study style su sucks "
    "supplies supply support surf surgery suzuki sv swatch swiftcover swiss sx sy sydney "
    "symantec systems sz tab taipei talk taobao target tatamotors tatar tattoo tax taxi tc tci "
    "td tdk team tech technology tel telecity telefonica temasek tennis teva tf tg th thd "
    "theater theatre tiaa tickets tienda tiffany tips tires tirol tj tjmaxx tjx tk tkmaxx tl tm "
    "tmall tn to today tokyo tools top toray toshiba total tours town toyota toys tp tr trade "
    "trading training travel travelchannel travelers travelersinsurance trust trv tt tube tui "
    "tunes tushu tv tvs tw tz ua ubank ubs uconnect ug uk um unicom university uno uol ups us "
    "uy uz va vacations vana vanguard vc ve vegas ventures verisign versicherung vet vg vi "
    "viajes video vig viking villas vin vip virgin visa vision vista vistaprint viva vivo "
    "vlaanderen vn vodka volkswagen volvo vote voting voto voyage vu vuelos wales walmart "
    "walter wang wanggou warman watch watches weather weatherchannel webcam weber website wed "
    "wedding weibo weir wf whoswho wien wiki williamhill win windows wine winners wme "
    "wolterskluwer woodside work works world wow ws wtc wtf xbox xerox xfinity xihuan xin "
    "xperia xxx xyz yachts yahoo yamaxun yandex ye yodobashi yoga yokohama you youtube yt yun "
    "za zappos zara zero zip zippo zm zone zuerich zw "
    "vermögensberater vermögensberatung ελ ευ бг "
    "бел дети ею католик ком мкд мон москва "
    "онлайн орг рус рф сайт срб укр қаз հայ קום "
    "ابوظبي اتصالات ارامكو الاردن البحرين الجزائر "
    "السعودية العليان المغرب امارات ایران بارت "
    "بازار بيتك بھارت تونس سودان سورية شبكة عراق "
    "عرب عمان فلسطين قطر كاثوليك كوم مصر مليسيا "
    "موبايلي موريتانيا موقع همراه پاکستان ڀارت "
    "कॉम नेट भारत भारतम् भारोत संगठन বাংলা ভারত "
    "ভাৰত ਭਾਰਤ ભારત ଭାରତ இந்தியா இலங்கை "
    "சிங்கப்பூர் భారత్ ಭಾರತ ഭാരതം ලංකා คอม ไทย "
    "ລາວ გე みんな クラウド グーグル コム ストア セール ファッション ポイント "
    "世界 中信 中国 中國 中文网 企业 佛山 信息 健康 八卦 公司 公益 台湾 台灣 "
    "商城 商店 商标 嘉里 嘉里大酒店 在线 大众汽车 大拿 天主教 娱乐 家電 工行 广东 "
    "微博 慈善 我爱你 手机 手表 招聘 政务 政府 新加坡 新闻 时尚 書籍 机构 淡马锡 "
    "游戏 澳門 点看 珠宝 移动 组织机构 网址 网店 网站 网络 联通 诺基亚 谷歌 购物 "
    "通販 集团 電訊盈科 飞利浦 食品 餐厅 香格里拉 香港 닷넷 닷컴 삼성 한국 "
)
_TLDS = frozenset(_TLD_TEXT.split())

_LATIN_ACCENTS = (
    "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259"
    "\u025b\u0263\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
# A domain character is anything but ASCII punctuation, whitespace and invalid/bidi controls.
_DOMAIN_CHAR = (
    r"[^\s\p{Z}!-/:-@\[-`{-~\uFFFE\uFEFF\uFFFF\u202A-\u202E\u061C\u200E\u200F\u2066-\u2069]"
)
_PATH_CHARS = rf"[a-z\u0400-\u04ff0-9!*';:=+,.$/%#\[\]\-\u2013_~@|&(){_LATIN_ACCENTS}]"
_PATH_END = regex.compile(rf"[a-z\u0400-\u04ff0-9=_#/+\-{_LATIN_ACCENTS}]", regex.IGNORECASE)
_QUERY_CHARS = r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"
_QUERY_END = regex.compile(r"[a-z0-9\-_&=#/]", regex.IGNORECASE)

_DOMAIN_LABEL = rf"{_DOMAIN_CHAR}(?:[_\-]*+{_DOMAIN_CHAR})*+"
# Longest TLDs first; the TLD is part of the pattern so that "example.co.ukx" backtracks to
# "example.co" exactly like twitter-text does.
_TLD_PATTERN = "|".join(regex.escape(tld) for tld in sorted(_TLDS, key=lambda t: (-len(t), t)))
_URL_RE = regex.compile(
    r"(?<![A-Za-z0-9@\uFF20$#\uFF03\uFFFE\uFEFF\uFFFF])"
    r"(?P<scheme>https?://)"
    rf"(?P<labels>(?:{_DOMAIN_LABEL}\.)+)"
    rf"(?P<tld>(?:{_TLD_PATTERN})(?![0-9a-z@+\-])|xn--[0-9a-z\-]+)"
    r"(?::(?P<port>[0-9]++))?"
    rf"(?P<path>/{_PATH_CHARS}*+)?"
    rf"(?P<query>\?{_QUERY_CHARS}*+)?",
    regex.IGNORECASE,
)
# Account::MENTION_RE: ``@user`` or ``@user@domain``.
_MENTION_RE = regex.compile(
    r"(?<![=/\w])@(?P<acct>(?P<username>[a-z0-9_]+(?:[.\-]+[a-z0-9_]+)*)"
    r"(?:@(?P<domain>\w+(?:[.\-]+\w+)*))?)",
    regex.IGNORECASE,
)
# Tag::HASHTAG_RE.
_HASHTAG_SEPARATORS = "_\u00b7\u30fb\u200c"
_HASHTAG_RE = regex.compile(
    r"(?<![=/)\p{Alnum}])#(?P<name>"
    rf"\w[\w{_HASHTAG_SEPARATORS}]*[\p{{Alpha}}{_HASHTAG_SEPARATORS}][\w{_HASHTAG_SEPARATORS}]*\w"
    r"|\w*\p{Alpha}\w*)",
    regex.IGNORECASE,
)
_GRAPHEME_RE = regex.compile(r"\X")
_URL_PREFIX_RE = regex.compile(r"\A(?:https?://(?:www\.)?)", regex.IGNORECASE)
_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})
# Ruby's String#strip removes ASCII whitespace and NUL.
_RUBY_STRIP = " \t\n\v\f\r\0"


@dataclass(frozen=True)
class _Entity:
    start: int
    end: int
    kind: Literal["url", "mention", "hashtag"]
    value: str
    username: str = ""
    domain: str | None = None


def _html_escape(text: str) -> str:
    return text.translate(_HTML_ESCAPES)


def _trim_url(match: regex.Match[str]) -> str:
    """Return the URL twitter-text would extract from ``match`` (without trailing punctuation)."""
    url = match.group("scheme") + match.group("labels") + match.group("tld")
    if match.group("port"):
        url += ":" + match.group("port")
    path = match.group("path") or ""
    query = match.group("query") or ""
    trimmed = path
    while len(trimmed) > 1:
        last = trimmed[-1]
        if last == ")":
            if trimmed.count("(") >= trimmed.count(")"):
                break
        elif _PATH_END.fullmatch(last):
            break
        trimmed = trimmed[:-1]
    if trimmed != path:
        query = ""
    while query and not _QUERY_END.fullmatch(query[-1]):
        query = query[:-1]
    return url + trimmed + query


def _extract_urls(text: str) -> list[_Entity]:
    entities: list[_Entity] = []
    for match in _URL_RE.finditer(text):
        url = _trim_url(match)
        entities.append(_Entity(match.start(), match.start() + len(url), "url", url))
    return entities


def _extract_mentions(text: str) -> list[_Entity]:
    entities: list[_Entity] = []
    for match in _MENTION_RE.finditer(text):
        after = text[match.end() :]
        if after.startswith(("@", "\uff20", "://")):
            continue
        entities.append(
            _Entity(
                match.start(),
                match.end(),
                "mention",
                match.group("acct"),
                username=match.group("username"),
                domain=match.group("domain"),
            )
        )
    return entities


def _extract_hashtags(text: str) -> list[_Entity]:
    return [
        _Entity(m.start(), m.end(), "hashtag", m.group("name")) for m in _HASHTAG_RE.finditer(text)
    ]


def _remove_overlapping(entities: list[_Entity]) -> list[_Entity]:
    kept: list[_Entity] = []
    for entity in sorted(entities, key=lambda e: e.start):
        if kept and entity.start < kept[-1].end:
            continue
        kept.append(entity)
    return kept


def _graphemes(text: str) -> int:
    return len(_GRAPHEME_RE.findall(text))


def count_status_length(text: str, spoiler_text: str = "", *, url_length: int = 23) -> int:
    """Count ``text`` + ``spoiler_text`` the way Mastodon's StatusLengthValidator does.

    Grapheme clusters; every http(s) URL with a real TLD counts as ``url_length``;
    ``@user@domain`` counts as ``@user``.  Text and spoiler are stripped first, like Mastodon.
    """
    text = text.strip(_RUBY_STRIP)
    spoiler_text = spoiler_text.strip(_RUBY_STRIP)
    entities = _remove_overlapping(_extract_urls(text) + _extract_mentions(text))
    parts: list[str] = []
    position = 0
    for entity in entities:
        parts.append(text[position : entity.start])
        if entity.kind == "url":
            parts.append("x" * url_length)
        else:
            parts.append("@" + entity.username)
        position = entity.end
    parts.append(text[position:])
    return _graphemes(spoiler_text + "".join(parts))


def _simple_format(html: str) -> str:
    """Rails' ``simple_format`` as Mastodon uses it (then newlines are deleted)."""
    html = html.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = regex.split(r"\n\n+", html)
    while paragraphs and paragraphs[-1] == "":
        paragraphs.pop()
    rendered = [
        "<p>" + regex.sub(r"([^\n]\n)(?=[^\n])", r"\1<br />", paragraph) + "</p>"
        for paragraph in paragraphs
    ]
    return "".join(rendered).replace("\n", "")


def _link_to_url(url: str) -> str:
    prefix_match = _URL_PREFIX_RE.match(url)
    prefix = prefix_match.group(0) if prefix_match else ""
    rest = url[len(prefix) :]
    display, suffix = rest[:30], rest[30:]
    css = "ellipsis" if len(rest) > 30 else ""
    return (
        f'<a href="{_html_escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
        f'<span class="invisible">{_html_escape(prefix)}</span>'
        f'<span class="{css}">{_html_escape(display)}</span>'
        f'<span class="invisible">{_html_escape(suffix)}</span></a>'
    )


def _normalize_tag(name: str) -> str:
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", name).lower())
    return "".join(c for c in folded if not unicodedata.combining(c))


def render_status_content(
    text: str,
    *,
    base_url: str,
    resolve_mention: Callable[[str, str | None], dict[str, Any] | None] | None = None,
) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """Render status text to Mastodon's HTML; return ``(content, mentions, tags)``.

    ``resolve_mention(username, domain)`` returns a Mention entity for a known account.
    """
    entities = _remove_overlapping(
        _extract_urls(text) + _extract_hashtags(text) + _extract_mentions(text)
    )
    parts: list[str] = []
    mentions: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    position = 0
    for entity in entities:
        parts.append(_html_escape(text[position : entity.start]))
        position = entity.end
        if entity.kind == "url":
            parts.append(_link_to_url(entity.value))
        elif entity.kind == "hashtag":
            name = _normalize_tag(entity.value)
            url = f"{base_url}/tags/{name}"
            parts.append(
                f'<a href="{_html_escape(f"{base_url}/tags/{entity.value}")}" '
                f'class="mention hashtag" rel="tag">#<span>{_html_escape(entity.value)}</span></a>'
            )
            if all(tag["name"] != name for tag in tags):
                tags.append({"name": name, "url": url})
        else:
            mention = resolve_mention(entity.username, entity.domain) if resolve_mention else None
            if mention is None:
                parts.append(_html_escape(text[entity.start : entity.end]))
                continue
            href, username = _html_escape(mention["url"]), _html_escape(mention["username"])
            parts.append(
                f'<span class="h-card" translate="no"><a href="{href}" class="u-url mention">'
                f"@<span>{username}</span></a></span>"
            )
            if all(m["id"] != mention["id"] for m in mentions):
                mentions.append(mention)
    parts.append(_html_escape(text[position:]))
    return _simple_format("".join(parts)), mentions, tags


# --------------------------------------------------------------------------------------------
# Languages and localized error messages
# --------------------------------------------------------------------------------------------

_ISO_639_1_TEXT = (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu "
    "cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi "
    "ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks "
    "ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl "
    "nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl "
    "sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve "
    "vi vo wa wo xh yi yo za zh zu"
)
_ISO_639_1 = frozenset(_ISO_639_1_TEXT.split())
# Mastodon's SUPPORTED_LOCALES also has some ISO 639-3 codes and regional variants.
_EXTRA_LANGUAGES_TEXT = (
    "ast chr ckb cnr csb gsw jbo kab kmr ldn lfn moh nds pdc sco sma smj szl tai tok zba zgh "
    "es-AR es-MX fr-CA fr-QC pt-BR pt-PT sr-Latn zh-CN zh-HK zh-TW"
)
_SUPPORTED_LANGUAGES = _ISO_639_1 | frozenset(_EXTRA_LANGUAGES_TEXT.split())

_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "validation": "Validation failed: {}",
        "blank": "Text can't be blank",
        "too_long": "Text character limit of {max} exceeded",
        "visibility": "Visibility is not included in the list",
    },
    "de": {
        "validation": "Gültigkeitsprüfung ist fehlgeschlagen: {}",
        "blank": "Text muss ausgefüllt werden",
        "too_long": "Text Begrenzung von {max} Zeichen überschritten",
        "visibility": "Visibility ist kein gültiger Wert",
    },
    "ja": {
        "validation": "バリデーションに失敗しました: {}",
        "blank": "Textを入力してください",
        "too_long": "Text上限は{max}文字です",
        "visibility": "Visibilityは一覧にありません",
    },
}
_NOT_FOUND = "Record not found"
_INVALID_TOKEN = "The access token is invalid"
_WWW_AUTHENTICATE = (
    'Bearer realm="Doorkeeper", error="invalid_token", '
    'error_description="The access token is invalid"'
)
_REPLY_NOT_FOUND = "The post you are trying to reply to does not appear to exist."
_VISIBILITIES = ("public", "unlisted", "private", "direct")

# --------------------------------------------------------------------------------------------
# Public data types
# --------------------------------------------------------------------------------------------

FaultKind = Literal[
    "rate_limit",
    "error_500",
    "error_502",
    "error_503",
    "drop",
    "lost_response",
    "lost_response_502",
    "delay",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
RateFamily = Literal["general", "statuses", "deletes", "unauthenticated"]


@dataclass
class RateLimit:
    """A fixed-window limit: ``limit`` requests per ``period`` seconds (windows epoch-aligned)."""

    limit: int
    period: int


@dataclass
class InjectedFault:
    """A queued fault; see :meth:`MastodonTestServer.inject`."""

    kind: FaultKind
    method: str | None
    path: str
    remaining: int
    delay: float = 0.0
    reset_in: float = 60.0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        pattern = _normalize_path(self.path)
        if any(c in pattern for c in "*?["):
            return fnmatch.fnmatchcase(path, pattern)
        return path == pattern


@dataclass
class RecordedRequest:
    """One request as the server saw it (the Authorization value is redacted)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, Any]
    time: datetime
    username: str | None = None
    fault: str | None = None
    status: int | None = None  # None: no response was sent (dropped connection)


# --------------------------------------------------------------------------------------------
# Internal state
# --------------------------------------------------------------------------------------------


@dataclass
class _Account:
    id: int
    username: str
    locale: str
    display_name: str
    bot: bool
    default_language: str | None
    default_visibility: str
    default_sensitive: bool
    app_name: str
    created_at: datetime
    tokens: set[str] = field(default_factory=set)


@dataclass
class _Status:
    id: int
    account: _Account
    text: str
    spoiler_text: str
    visibility: str
    language: str | None
    sensitive: bool
    created_at: datetime
    content: str
    mentions: list[dict[str, Any]]
    tags: list[dict[str, Any]]
    application: str
    in_reply_to_id: int | None = None
    in_reply_to_account_id: int | None = None
    replies_count: int = 0
    deleted: bool = False


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    params: dict[str, Any]
    headers: dict[str, str]
    client_ip: str


@dataclass
class _Response:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


_Result = tuple[int, Any, list[tuple[str, str]]]


@dataclass
class _Call:
    request: _Request
    account: _Account | None
    now: datetime
    args: tuple[str, ...]


def _route(pattern: str) -> regex.Pattern[str]:
    return regex.compile(rf"/api/v1/{pattern}")


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _normalize_path(path: str) -> str:
    return path.rstrip("/") or "/"


def _iso_ms(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _iso_us(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _truthy(value: Any) -> bool:
    """Rails' boolean casting of a request parameter."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("", "0", "f", "false", "off")


def _as_int(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _utcnow() -> datetime:
    return datetime.now(UTC)


_BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_UNAVAILABLE_HTML = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_JSON_TYPE = "application/json; charset=utf-8"
_INSTANCE_CACHE_CONTROL = "max-age=300, public, stale-while-revalidate=30, stale-if-error=86400"


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class MastodonTestServer:
    """A threaded Mastodon API server on 127.0.0.1 (ephemeral port) for tests.

    Configuration attributes (change them at any time):

    * ``max_characters`` (500), ``characters_reserved_per_url`` (23), ``version`` ("4.6.4");
    * ``instance_v2_enabled`` (True): False makes ``/api/v2/instance`` answer 404, like a
      Mastodon older than 4.0 (set ``version`` to e.g. "3.5.5" as well);
    * ``instance_error`` (None): an HTTP status (e.g. 503) that both instance endpoints answer;
    * ``delay`` (0.0): seconds every request waits before it is handled;
    * ``clock``: ``() -> datetime`` (aware UTC); :meth:`advance` adds an offset on top of it;
    * ``rate_limits``: a :class:`RateLimit` per family ("general" 300/5 min per token,
      "statuses" 300/3 h per account, "deletes" 30/30 min per account, "unauthenticated"
      300/5 min per IP); see :meth:`set_rate_limit`;
    * ``idempotency_ttl`` (3600 s).

    Seeding and inspection: :meth:`add_account`, :meth:`create_status`, :meth:`statuses`,
    :meth:`account`, :attr:`requests` (a :class:`RecordedRequest` per request, Authorization
    redacted), :attr:`connections_opened`, :meth:`wait_idle`, ``internal_errors`` (tracebacks
    of bugs in this server; answered as 500).  Faults: :meth:`inject`, :attr:`pending_faults`,
    :meth:`clear_faults`.
    """

    def __init__(
        self,
        *,
        max_characters: int = 500,
        characters_reserved_per_url: int = 23,
        version: str = "4.6.4",
        port: int = 0,
    ) -> None:
        self.max_characters = max_characters
        self.characters_reserved_per_url = characters_reserved_per_url
        self.version = version
        self.instance_v2_enabled = True
        self.instance_error: int | None = None
        self.delay = 0.0
        self.clock: Callable[[], datetime] = _utcnow
        self.idempotency_ttl = 3600.0
        self.rate_limits: dict[str, RateLimit] = {
            "general": RateLimit(300, 300),
            "statuses": RateLimit(300, 3 * 3600),
            "deletes": RateLimit(30, 1800),
            "unauthenticated": RateLimit(300, 300),
        }
        self._port = port
        self._offset = 0.0
        self._lock = threading.RLock()
        self._accounts: dict[int, _Account] = {}
        self._tokens: dict[str, _Account] = {}
        self._statuses: dict[int, _Status] = {}
        self._idempotency: dict[tuple[int, str], tuple[int, datetime]] = {}
        self._counters: dict[tuple[str, str, int], int] = {}
        self._faults: list[InjectedFault] = []
        self._requests: list[RecordedRequest] = []
        self._last_id = 0
        self._sequence = itertools.count()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._idle = threading.Condition()
        self._in_flight = 0
        self._connections: set[socket.socket] = set()
        self._connections_opened = 0
        self.internal_errors: list[str] = []  # tracebacks of bugs in this server, if any

    # -- lifecycle -------------------------------------------------------------------------

    def _bind(self) -> _HTTPServer:
        """Bind the listening socket (done by start(), or earlier when base_url is needed)."""
        if self._httpd is None:
            httpd = _HTTPServer(("127.0.0.1", self._port), _Handler)
            httpd.app = self
            self._port = httpd.server_address[1]
            self._httpd = httpd
        return self._httpd

    def start(self) -> MastodonTestServer:
        """Start serving (a restarted server keeps its state and, if possible, its port)."""
        if self._thread is not None:
            return self
        httpd = self._bind()
        self._stopping.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"mastodon-test-server:{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, interrupt delayed requests and close kept-alive connections."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        if thread is not None:
            httpd.shutdown()
        httpd.server_close()
        with self._idle:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> MastodonTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port (the socket is bound on first use, so it is known before start())."""
        if self._port == 0:
            self._bind()
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def connections_opened(self) -> int:
        """How many TCP connections clients have opened (keep-alive reuses them)."""
        with self._idle:
            return self._connections_opened

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait (at most ``timeout`` s) until no request is being handled; True if idle."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    # -- clock -----------------------------------------------------------------------------

    def now(self) -> datetime:
        moment = self.clock()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment + timedelta(seconds=self._offset)

    def advance(self, seconds: float) -> None:
        """Move the server's clock forward (rate-limit windows, idempotency expiry)."""
        with self._lock:
            self._offset += seconds

    # -- configuration and seeding ---------------------------------------------------------

    def add_account(
        self,
        token: str,
        username: str = "bot",
        *,
        locale: str = "en",
        display_name: str = "",
        bot: bool = False,
        default_language: str | None = None,
        default_visibility: str = "public",
        default_sensitive: bool = False,
        app_name: str = "Test app",
    ) -> dict[str, Any]:
        """Register ``token`` for ``username`` (created if new); return its CredentialAccount.

        ``locale`` is the account's UI language: error messages (en/de/ja) and the default
        posting language come from it, as in Mastodon.
        """
        with self._lock:
            account = self._find_account(username)
            if account is None:
                now = self.now()
                account = _Account(
                    id=self._next_id(now),
                    username=username,
                    locale=locale,
                    display_name=display_name,
                    bot=bot,
                    default_language=default_language,
                    default_visibility=default_visibility,
                    default_sensitive=default_sensitive,
                    app_name=app_name,
                    created_at=now.replace(hour=0, minute=0, second=0, microsecond=0),
                )
                self._accounts[account.id] = account
            account.tokens.add(token)
            self._tokens[token] = account
            return self._credential_account(account)

    def set_rate_limit(self, family: RateFamily, limit: int, period: int | None = None) -> None:
        """Change a rate-limit family's ``limit`` (and optionally ``period`` in seconds)."""
        with self._lock:
            current = self.rate_limits[family]
            self.rate_limits[family] = RateLimit(limit, period or current.period)

    def reset_rate_limits(self) -> None:
        with self._lock:
            self._counters.clear()

    def create_status(self, username: str, text: str, **params: Any) -> dict[str, Any]:
        """Create a status directly (no HTTP, no limits); ``params`` as in the API."""
        with self._lock:
            account = self._find_account(username)
            if account is None:
                raise KeyError(username)
            status = self._build_status(account, {"status": text, **params}, "en")
            return self._status_entity(status, account)

    # -- fault injection -------------------------------------------------------------------

    def inject(
        self,
        fault: FaultKind,
        *,
        method: str | None = "POST",
        path: str = "/api/v1/statuses",
        times: int = 1,
        delay: float = 0.0,
        reset_in: float = 60.0,
    ) -> InjectedFault:
        """Queue a fault for the next ``times`` requests matching ``method`` and ``path``.

        ``path`` may be a glob (``/api/v1/statuses/*``); ``method=None`` matches any method.
        Faults are consumed in the order they were injected.  Kinds:

        * ``rate_limit``: 429 ``{"error":"Too many requests"}`` with X-RateLimit-* headers
          (remaining 0, reset ``reset_in`` seconds ahead), no Retry-After; nothing happens;
        * ``error_500`` (JSON body), ``error_502``/``error_503`` (nginx HTML): nothing happens;
        * ``drop``: the connection is closed without a response; nothing happens;
        * ``lost_response``: the request IS processed (a status is created and its
          idempotency key stored), then the connection is closed without a response;
        * ``lost_response_502``: processed, then answered with an nginx 502;
        * ``delay``: processed normally after ``delay`` seconds.

        ``delay`` also applies to the other kinds: they wait that long before acting (for
        ``lost_response*``: after processing, before dropping).  Waits end early on stop().
        """
        if fault not in FAULT_KINDS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {FAULT_KINDS}")
        if times < 1:
            raise ValueError("times must be at least 1")
        injected = InjectedFault(fault, method, path, times, delay, reset_in)
        with self._lock:
            self._faults.append(injected)
        return injected

    @property
    def pending_faults(self) -> list[InjectedFault]:
        with self._lock:
            return list(self._faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # -- inspection ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def statuses(
        self, username: str | None = None, *, include_deleted: bool = False
    ) -> list[dict[str, Any]]:
        """Statuses (oldest first) as their author sees them; all accounts if no username."""
        with self._lock:
            result = []
            for status in sorted(self._statuses.values(), key=lambda s: s.id):
                if username is not None and status.account.username != username:
                    continue
                if status.deleted and not include_deleted:
                    continue
                result.append(self._status_entity(status, status.account))
            return result

    def account(self, username: str) -> dict[str, Any]:
        """The CredentialAccount entity of ``username``."""
        with self._lock:
            account = self._find_account(username)
            if account is None:
                raise KeyError(username)
            return self._credential_account(account)

    # -- internals: ids, accounts, entities ------------------------------------------------

    def _next_id(self, now: datetime) -> int:
        candidate = (int(now.timestamp() * 1000) << 16) | (next(self._sequence) & 0xFFFF)
        self._last_id = max(candidate, self._last_id + 1)
        return self._last_id

    def _find_account(self, username: str) -> _Account | None:
        for account in self._accounts.values():
            if account.username.lower() == username.lower():
                return account
        return None

    def _live_statuses(self, account: _Account) -> list[_Status]:
        return [s for s in self._statuses.values() if s.account is account and not s.deleted]

    def _account_entity(self, account: _Account) -> dict[str, Any]:
        base = self.base_url
        statuses = self._live_statuses(account)
        last = max((s.created_at for s in statuses), default=None)
        return {
            "id": str(account.id),
            "username": account.username,
            "acct": account.username,
            "display_name": account.display_name,
            "locked": False,
            "bot": account.bot,
            "discoverable": None,
            "indexable": False,
            "group": False,
            "created_at": _iso_ms(account.created_at),
            "note": "",
            "url": f"{base}/@{account.username}",
            "uri": f"{base}/ap/users/{account.id}",
            "avatar": f"{base}/avatars/original/missing.png",
            "avatar_static": f"{base}/avatars/original/missing.png",
            "avatar_description": "",
            "header": f"{base}/headers/original/missing.png",
            "header_static": f"{base}/headers/original/missing.png",
            "header_description": "",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": len(statuses),
            "last_status_at": last.strftime("%Y-%m-%d") if last else None,
            "hide_collections": None,
            "show_media": True,
            "show_media_replies": True,
            "show_featured": True,
            "noindex": False,
            "feature_approval": {"automatic": [], "manual": [], "current_user": "denied"},
            "emojis": [],
            "roles": [],
            "fields": [],
        }

    def _credential_account(self, account: _Account) -> dict[str, Any]:
        entity = self._account_entity(account)
        fields_ = entity.pop("emojis"), entity.pop("roles"), entity.pop("fields")
        entity["source"] = {
            "privacy": account.default_visibility,
            "sensitive": account.default_sensitive,
            "language": account.default_language,
            "note": "",
            "fields": [],
            "follow_requests_count": 0,
            "hide_collections": None,
            "discoverable": None,
            "indexable": False,
            "attribution_domains": [],
            "quote_policy": "public",
        }
        entity["emojis"], entity["roles"], entity["fields"] = fields_
        entity["role"] = {
            "id": "-99",
            "name": "",
            "permissions": "65536",
            "color": "",
            "highlighted": False,
            "collection_limit": 10,
        }
        return entity

    def _status_entity(
        self, status: _Status, viewer: _Account | None, *, source: bool = False
    ) -> dict[str, Any]:
        base = self.base_url
        owned = viewer is not None and viewer is status.account
        entity: dict[str, Any] = {
            "id": str(status.id),
            "created_at": _iso_ms(status.created_at),
            "in_reply_to_id": str(status.in_reply_to_id) if status.in_reply_to_id else None,
            "in_reply_to_account_id": (
                str(status.in_reply_to_account_id) if status.in_reply_to_account_id else None
            ),
            "sensitive": status.sensitive,
            "spoiler_text": status.spoiler_text,
            "visibility": status.visibility,
            "language": status.language,
            "uri": f"{base}/ap/users/{status.account.id}/statuses/{status.id}",
            "url": f"{base}/@{status.account.username}/{status.id}",
            "replies_count": status.replies_count,
            "reblogs_count": 0,
            "favourites_count": 0,
            "quotes_count": 0,
            "edited_at": None,
        }
        if viewer is not None:
            entity.update(favourited=False, reblogged=False, muted=False, bookmarked=False)
            if owned and status.visibility != "direct":
                entity["pinned"] = False
        if source:
            entity["text"] = status.text
        else:
            entity["content"] = status.content
        if viewer is not None:
            entity["filtered"] = []
        entity["reblog"] = None
        if owned:
            entity["application"] = {"name": status.application, "website": None}
        public = status.visibility in ("public", "unlisted")
        entity.update(
            {
                "account": self._account_entity(status.account),
                "media_attachments": [],
                "mentions": [dict(m) for m in status.mentions],
                "tags": [dict(t) for t in status.tags],
                "emojis": [],
                "tagged_collections": [],
                "quote": None,
                "card": None,
                "poll": None,
                "quote_approval": {
                    "automatic": ["public"] if public else [],
                    "manual": [],
                    "current_user": "automatic" if public or owned else "denied",
                },
            }
        )
        return entity

    def _mention_entity(self, username: str, domain: str | None) -> dict[str, Any] | None:
        if domain is not None and domain.lower() not in (self.domain, "127.0.0.1", "localhost"):
            return None
        account = self._find_account(username)
        if account is None:
            return None
        return {
            "id": str(account.id),
            "username": account.username,
            "url": f"{self.base_url}/@{account.username}",
            "acct": account.username,
        }

    def _instance_v2(self) -> dict[str, Any]:
        base = self.base_url
        icons = [
            {"src": f"{base}/packs/icons/android-chrome-{n}x{n}.png", "size": f"{n}x{n}"}
            for n in (36, 48, 72, 96, 144, 192, 256, 384, 512)
        ]
        return {
            "domain": self.domain,
            "title": "Mastodon",
            "version": self.version,
            "source_url": "https://github.com/mastodon/mastodon",
            "description": "",
            "usage": {"users": {"active_month": len(self._accounts)}},
            "thumbnail": {"url": f"{base}/packs/images/preview.png", "description": ""},
            "icon": icons,
            "languages": ["en"],
            "configuration": {
                "urls": {
                    "streaming": f"ws://{self.domain}",
                    "status": None,
                    "about": f"{base}/about",
                    "privacy_policy": f"{base}/privacy-policy",
                    "terms_of_service": None,
                },
                "vapid": {"public_key": "BAhxXyHfAoMqrZECjRI56F5QrE4ynVlkZFMdKSpTIsWRNoWU="},
                "accounts": {
                    "max_display_name_length": 40,
                    "max_note_length": 500,
                    "max_avatar_description_length": 150,
                    "max_header_description_length": 150,
                    "max_featured_tags": 10,
                    "max_pinned_statuses": 5,
                    "max_profile_fields": 4,
                    "profile_field_name_limit": 255,
                    "profile_field_value_limit": 255,
                },
                "statuses": self._statuses_configuration(),
                "media_attachments": {
                    "description_limit": 10000,
                    "image_matrix_limit": 33177600,
                    "image_size_limit": 16777216,
                    "supported_mime_types": list(_MIME_TYPES),
                    "video_frame_rate_limit": 120,
                    "video_matrix_limit": 8294400,
                    "video_size_limit": 103809024,
                },
                "polls": dict(_POLLS),
                "translation": {"enabled": False},
                "timelines_access": {
                    feed: {"local": "public", "remote": "public"}
                    for feed in ("live_feeds", "hashtag_feeds", "trending_link_feeds")
                },
                "limited_federation": False,
            },
            "registrations": {
                "enabled": False,
                "approval_required": False,
                "reason_required": False,
                "message": None,
                "min_age": None,
                "url": None,
            },
            "api_versions": {"mastodon": 11},
            "wrapstodon": None,
            "contact": {"email": "", "account": None},
            "rules": [],
        }

    def _instance_v1(self) -> dict[str, Any]:
        base = self.base_url
        live = [s for s in self._statuses.values() if not s.deleted]
        return {
            "uri": self.domain,
            "title": "Mastodon",
            "short_description": "",
            "description": "",
            "email": "",
            "version": self.version,
            "urls": {"streaming_api": f"ws://{self.domain}"},
            "stats": {
                "user_count": len(self._accounts),
                "status_count": len(live),
                "domain_count": 1,
            },
            "thumbnail": f"{base}/packs/images/preview.png",
            "languages": ["en"],
            "registrations": False,
            "approval_required": False,
            "invites_enabled": True,
            "configuration": {
                "accounts": {"max_featured_tags": 10},
                "statuses": self._statuses_configuration(),
                "media_attachments": {
                    "supported_mime_types": list(_MIME_TYPES),
                    "image_size_limit": 16777216,
                    "image_matrix_limit": 33177600,
                    "video_size_limit": 103809024,
                    "video_frame_rate_limit": 120,
                    "video_matrix_limit": 8294400,
                },
                "polls": dict(_POLLS),
            },
            "contact_account": None,
            "rules": [],
        }

    def _statuses_configuration(self) -> dict[str, Any]:
        return {
            "max_characters": self.max_characters,
            "max_media_attachments": 4,
            "characters_reserved_per_url": self.characters_reserved_per_url,
        }

    # -- internals: rate limits ------------------------------------------------------------

    def _window(self, family: str, now: datetime) -> tuple[RateLimit, int]:
        limit = self.rate_limits[family]
        return limit, int(now.timestamp()) // limit.period

    def _count(self, family: str, subject: str, now: datetime, *, hit: bool) -> int:
        _limit, window = self._window(family, now)
        key = (family, subject, window)
        if hit:
            self._counters[key] = self._counters.get(key, 0) + 1
        return self._counters.get(key, 0)

    def _rate_headers(
        self, family: str, count: int, now: datetime, *, exhausted: bool = False
    ) -> list[tuple[str, str]]:
        limit = self.rate_limits[family]
        reset = now + timedelta(seconds=limit.period - int(now.timestamp()) % limit.period)
        remaining = 0 if exhausted else max(0, limit.limit - count)
        return [
            ("X-RateLimit-Limit", str(limit.limit)),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-Reset", _iso_us(reset)),
        ]

    # -- internals: request handling -------------------------------------------------------

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(record)

    def _take_fault(self, method: str, path: str) -> InjectedFault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _fault_response(self, fault: InjectedFault, request: _Request) -> _Response:
        if fault.kind == "rate_limit":
            with self._lock:
                now = self.now()
                account = self._account_for(request)
                family = self._header_family(request, account)
                headers = self._rate_headers(family, 0, now, exhausted=True)
                reset = now + timedelta(seconds=fault.reset_in)
                headers[-1] = ("X-RateLimit-Reset", _iso_us(reset))
            return self._json(429, {"error": "Too many requests"}, headers)
        if fault.kind == "error_500":
            return self._json(500, {"error": "Internal Server Error"})
        if fault.kind == "error_503":
            return _Response(503, _UNAVAILABLE_HTML, [("Content-Type", "text/html")])
        return _Response(502, _BAD_GATEWAY_HTML, [("Content-Type", "text/html")])

    def _account_for(self, request: _Request) -> _Account | None:
        token = self._bearer(request)
        return self._tokens.get(token) if token else None

    @staticmethod
    def _bearer(request: _Request) -> str | None:
        value = request.headers.get("authorization", "")
        if value[:7].lower() == "bearer ":
            return value[7:].strip() or None
        return None

    @staticmethod
    def _header_family(request: _Request, account: _Account | None) -> str:
        if account is None:
            return "unauthenticated"
        if request.method == "POST" and request.path == "/api/v1/statuses":
            return "statuses"
        if request.method == "DELETE" and regex.fullmatch(r"/api/v1/statuses/[^/]+", request.path):
            return "deletes"
        return "general"

    @staticmethod
    def _json(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> _Response:
        all_headers = [("Content-Type", _JSON_TYPE), *(headers or [])]
        return _Response(status, _json_bytes(payload), all_headers)

    def _dispatch(self, request: _Request) -> _Response:
        with self._lock:
            now = self.now()
            token = self._bearer(request)
            account = self._tokens.get(token) if token else None
            headers: list[tuple[str, str]] = [
                ("Cache-Control", "private, no-store"),
                ("Vary", "Authorization, Origin"),
                ("X-Request-Id", str(uuid.uuid4())),
            ]
            if not request.path.startswith("/api/"):
                return self._json(404, {"error": "Not Found"}, headers)

            # Rack::Attack: general per-token / per-IP throttles, then the delete throttle.
            if account is not None:
                general_family, subject = "general", f"token:{token}"
            else:
                general_family, subject = "unauthenticated", f"ip:{request.client_ip}"
            count = self._count(general_family, subject, now, hit=True)
            if count > self.rate_limits[general_family].limit:
                limited = self._rate_headers(general_family, count, now, exhausted=True)
                return self._json(429, {"error": "Too many requests"}, headers + limited)
            rate_headers = self._rate_headers(general_family, count, now)
            remaining = self.rate_limits[general_family].limit - count
            if account is not None and self._header_family(request, account) == "deletes":
                deletes = self._count("deletes", f"account:{account.id}", now, hit=True)
                if deletes > self.rate_limits["deletes"].limit:
                    limited = self._rate_headers("deletes", deletes, now, exhausted=True)
                    return self._json(429, {"error": "Too many requests"}, headers + limited)
                if self.rate_limits["deletes"].limit - deletes <= remaining:
                    rate_headers = self._rate_headers("deletes", deletes, now)

            try:
                status, payload, extra = self._route(request, account, token, now)
            except _HTTPError as error:
                status, payload, extra = error.status, {"error": error.message}, []
                if error.status == 401:
                    extra = [("WWW-Authenticate", _WWW_AUTHENTICATE)]
            if account is not None and self._header_family(request, account) == "statuses":
                statuses = self._count("statuses", f"account:{account.id}", now, hit=False)
                rate_headers = self._rate_headers(
                    "statuses", statuses, now, exhausted=status == 429
                )
            extra_names = {name.lower() for name, _ in extra}
            if "cache-control" in extra_names:
                headers = [h for h in headers if h[0] != "Cache-Control"]
            return self._json(status, payload, headers + extra + rate_headers)

    def _route(
        self, request: _Request, account: _Account | None, token: str | None, now: datetime
    ) -> _Result:
        if request.path in ("/api/v1/instance", "/api/v2/instance") and request.method in (
            "GET",
            "HEAD",
        ):
            return self._get_instance(request.path)
        # Doorkeeper: a token that is present must be valid, even on public endpoints.
        if token is not None and account is None:
            raise _HTTPError(401, _INVALID_TOKEN)
        method = "GET" if request.method == "HEAD" else request.method
        for route_method, pattern, handler in self._routes():
            match = pattern.fullmatch(request.path)
            if match is not None and route_method == method:
                return handler(_Call(request, account, now, match.groups()))
        raise _HTTPError(404, "Not Found")

    def _routes(self) -> list[tuple[str, regex.Pattern[str], Callable[[_Call], _Result]]]:
        return [
            ("GET", _route("accounts/verify_credentials"), self._api_verify_credentials),
            ("GET", _route("accounts/lookup"), self._api_lookup_account),
            ("GET", _route("accounts/([^/]+)"), self._api_get_account),
            ("GET", _route("accounts/([^/]+)/statuses"), self._api_account_statuses),
            ("GET", _route("timelines/home"), self._api_home_timeline),
            ("GET", _route("statuses/([^/]+)"), self._api_get_status),
            ("POST", _route("statuses"), self._api_post_status),
            ("DELETE", _route("statuses/([^/]+)"), self._api_delete_status),
        ]

    def _api_verify_credentials(self, call: _Call) -> _Result:
        return 200, self._credential_account(self._require(call.account)), []

    def _api_lookup_account(self, call: _Call) -> _Result:
        acct = (call.request.query.get("acct") or [""])[-1].lstrip("@")
        username, _, domain = acct.partition("@")
        found = self._find_account(username)
        if found is None or domain.lower() not in ("", self.domain, "127.0.0.1"):
            raise _HTTPError(404, _NOT_FOUND)
        return 200, self._account_entity(found), []

    def _api_get_account(self, call: _Call) -> _Result:
        return 200, self._account_entity(self._get_account(call.args[0])), []

    def _api_account_statuses(self, call: _Call) -> _Result:
        target = self._get_account(call.args[0])
        endpoint = f"accounts/{call.args[0]}/statuses"
        return self._list_statuses(call.request, target, call.account, endpoint)

    def _api_home_timeline(self, call: _Call) -> _Result:
        owner = self._require(call.account)
        return self._list_statuses(call.request, owner, owner, "timelines/home")

    def _api_get_status(self, call: _Call) -> _Result:
        status = self._visible_status(call.args[0], call.account)
        return 200, self._status_entity(status, call.account), []

    def _api_post_status(self, call: _Call) -> _Result:
        return self._post_status(call.request, self._require(call.account), call.now)

    def _api_delete_status(self, call: _Call) -> _Result:
        return self._delete_status(call.args[0], self._require(call.account))

    @staticmethod
    def _require(account: _Account | None) -> _Account:
        if account is None:
            raise _HTTPError(401, _INVALID_TOKEN)
        return account

    def _get_account(self, raw_id: str) -> _Account:
        account_id = _as_int(raw_id)
        account = self._accounts.get(account_id) if account_id is not None else None
        if account is None:
            raise _HTTPError(404, _NOT_FOUND)
        return account

    def _can_see(self, status: _Status, viewer: _Account | None) -> bool:
        if status.deleted:
            return False
        if viewer is status.account or status.visibility in ("public", "unlisted"):
            return True
        if status.visibility == "direct" and viewer is not None:
            return any(m["id"] == str(viewer.id) for m in status.mentions)
        return False

    def _visible_status(self, raw_id: str, viewer: _Account | None) -> _Status:
        status_id = _as_int(raw_id)
        status = self._statuses.get(status_id) if status_id is not None else None
        if status is None or not self._can_see(status, viewer):
            raise _HTTPError(404, _NOT_FOUND)
        return status

    def _get_instance(self, path: str) -> _Result:
        if self.instance_error is not None:
            return self.instance_error, {"error": "Instance information unavailable"}, []
        headers = [("Cache-Control", _INSTANCE_CACHE_CONTROL)]
        if path == "/api/v2/instance":
            if not self.instance_v2_enabled:
                raise _HTTPError(404, "Not Found")
            return 200, self._instance_v2(), headers
        if self.instance_v2_enabled:
            headers.append(("Deprecation", "@1668384000"))
        return 200, self._instance_v1(), headers

    def _list_statuses(
        self, request: _Request, target: _Account, viewer: _Account | None, endpoint: str
    ) -> _Result:
        query = {key: values[-1] for key, values in request.query.items() if values}
        candidates = [s for s in self._live_statuses(target) if self._can_see(s, viewer)]
        if _truthy(query.get("pinned", "")) or _truthy(query.get("only_media", "")):
            candidates = []
        if _truthy(query.get("exclude_replies", "")):
            candidates = [
                s
                for s in candidates
                if s.in_reply_to_id is None or s.in_reply_to_account_id == target.id
            ]
        if query.get("tagged"):
            tag = _normalize_tag(query["tagged"])
            candidates = [s for s in candidates if any(t["name"] == tag for t in s.tags)]
        limit = 20
        if "limit" in query:
            limit = min(abs(_as_int(query["limit"]) or 0), 40)
        max_id, since_id, min_id = (
            _as_int(query.get(key, "")) for key in ("max_id", "since_id", "min_id")
        )
        if max_id is not None:
            candidates = [s for s in candidates if s.id < max_id]
        if min_id is not None:
            ascending = sorted((s for s in candidates if s.id > min_id), key=lambda s: s.id)
            page = list(reversed(ascending[:limit]))
        else:
            if since_id is not None:
                candidates = [s for s in candidates if s.id > since_id]
            page = sorted(candidates, key=lambda s: s.id, reverse=True)[:limit]
        keep = ("limit", "only_media", "exclude_replies", "exclude_reblogs", "pinned", "tagged")
        link_params = {key: query[key] for key in keep if key in query}
        links = []
        url = f"{self.base_url}/api/v1/{endpoint}"
        if page and len(page) == limit:
            links.append(f'<{url}?{urlencode({**link_params, "max_id": page[-1].id})}>; rel="next"')
        if page:
            links.append(f'<{url}?{urlencode({**link_params, "min_id": page[0].id})}>; rel="prev"')
        headers = [("Link", ", ".join(links))] if links else []
        return 200, [self._status_entity(s, viewer) for s in page], headers

    def _locale(self, request: _Request, account: _Account) -> str:
        lang = str(request.params.get("lang") or (request.query.get("lang") or [""])[-1])
        return lang if lang in _MESSAGES else account.locale

    def _post_status(self, request: _Request, account: _Account, now: datetime) -> _Result:
        params = request.params
        key = request.headers.get("idempotency-key") or None
        locale = self._locale(request, account)
        # set_thread runs before PostStatusService (404 for an unknown/invisible parent).
        reply_to = params.get("in_reply_to_id")
        if reply_to not in (None, ""):
            parent_id = _as_int(reply_to)
            parent = self._statuses.get(parent_id) if parent_id is not None else None
            if parent is None or not self._can_see(parent, account):
                raise _HTTPError(404, _REPLY_NOT_FOUND)
        if key is not None:
            remembered = self._idempotency.get((account.id, key))
            if remembered is not None and remembered[1] > now:
                original = self._statuses.get(remembered[0])
                if original is None or original.deleted:
                    raise _HTTPError(404, _NOT_FOUND)
                return 200, self._status_entity(original, account), []
        status = self._build_status(account, params, locale, enforce_rate_limit=True)
        if key is not None:
            expires = now + timedelta(seconds=self.idempotency_ttl)
            self._idempotency[(account.id, key)] = (status.id, expires)
        return 200, self._status_entity(status, account), []

    def _build_status(
        self,
        account: _Account,
        params: dict[str, Any],
        locale: str,
        *,
        enforce_rate_limit: bool = False,
    ) -> _Status:
        messages = _MESSAGES.get(locale, _MESSAGES["en"])

        def invalid(message_key: str, **values: Any) -> _HTTPError:
            detail = messages[message_key].format(**values)
            return _HTTPError(422, messages["validation"].format(detail))

        media = params.get("media_ids[]", params.get("media_ids"))
        if media:
            ids = media if isinstance(media, list) else [media]
            raise _HTTPError(
                422,
                f"Media {', '.join(str(i) for i in ids)} not found or already attached "
                "to another post (the test server does not support media)",
            )
        if any(k == "poll" or k.startswith("poll[") for k in params):
            raise _HTTPError(422, "Validation failed: polls are not supported by the test server")
        if params.get("scheduled_at"):
            raise _HTTPError(
                422, "Validation failed: scheduled statuses are not supported by the test server"
            )
        visibility = str(params.get("visibility") or account.default_visibility)
        if visibility not in _VISIBILITIES:
            raise invalid("visibility")
        text = str(params.get("status") or "").strip(_RUBY_STRIP)
        spoiler_text = str(params.get("spoiler_text") or "").strip(_RUBY_STRIP)
        if not text or text.isspace():
            raise invalid("blank")
        length = count_status_length(
            text, spoiler_text, url_length=self.characters_reserved_per_url
        )
        if length > self.max_characters:
            raise invalid("too_long", max=self.max_characters)
        now = self.now()
        if enforce_rate_limit:
            used = self._count("statuses", f"account:{account.id}", now, hit=False)
            if used >= self.rate_limits["statuses"].limit:
                raise _HTTPError(429, "Too many requests")
            self._count("statuses", f"account:{account.id}", now, hit=True)
        parent: _Status | None = None
        parent_id = _as_int(params.get("in_reply_to_id") or "")
        if parent_id is not None:
            parent = self._statuses.get(parent_id)
        language = next(
            (
                str(candidate)
                for candidate in (params.get("language"), account.default_language, account.locale)
                if candidate and str(candidate) in _SUPPORTED_LANGUAGES
            ),
            "en",
        )
        sensitive_param = params.get("sensitive")
        sensitive = (
            account.default_sensitive if sensitive_param in (None, "") else _truthy(sensitive_param)
        ) or bool(spoiler_text)
        content, mentions, tags = render_status_content(
            text, base_url=self.base_url, resolve_mention=self._mention_entity
        )
        status = _Status(
            id=self._next_id(now),
            account=account,
            text=text,
            spoiler_text=spoiler_text,
            visibility=visibility,
            language=language,
            sensitive=sensitive,
            created_at=now,
            content=content,
            mentions=mentions,
            tags=tags,
            application=account.app_name,
            in_reply_to_id=parent.id if parent else None,
            in_reply_to_account_id=parent.account.id if parent else None,
        )
        if parent is not None:
            parent.replies_count += 1
        self._statuses[status.id] = status
        return status

    def _delete_status(self, raw_id: str, account: _Account) -> _Result:
        status_id = _as_int(raw_id)
        status = self._statuses.get(status_id) if status_id is not None else None
        if status is None or status.deleted or status.account is not account:
            raise _HTTPError(404, _NOT_FOUND)
        status.deleted = True
        if status.in_reply_to_id is not None:
            parent = self._statuses.get(status.in_reply_to_id)
            if parent is not None and parent.replies_count > 0:
                parent.replies_count -= 1
        return 200, self._status_entity(status, account, source=True), []


_MIME_TYPES_TEXT = (
    "image/jpeg image/png image/gif image/heic image/heif image/webp image/avif video/webm "
    "video/mp4 video/quicktime video/ogg audio/wave audio/wav audio/x-wav audio/x-pn-wave "
    "audio/vnd.wave audio/ogg audio/vorbis audio/mpeg audio/mp3 audio/webm audio/flac audio/aac "
    "audio/m4a audio/x-m4a audio/mp4 audio/3gpp video/x-ms-asf"
)
_MIME_TYPES = tuple(_MIME_TYPES_TEXT.split())
_POLLS = {
    "max_options": 4,
    "max_characters_per_option": 50,
    "min_expiration": 300,
    "max_expiration": 2629746,
}


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    app: MastodonTestServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Mastodon"
    sys_version = ""
    timeout = 30  # idle keep-alive connections are closed after this many seconds

    @property
    def app(self) -> MastodonTestServer:
        return cast(_HTTPServer, self.server).app

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # the client's delayed ACK add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        app = self.app
        with app._idle:
            app._connections.add(self.connection)
            app._connections_opened += 1

    def finish(self) -> None:
        app = self.app
        with app._idle:
            app._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def handle(self) -> None:
        # A client vanishing between requests is normal here (drops, kills, stop()).
        with contextlib.suppress(OSError):
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def date_time_string(self, timestamp: float | None = None) -> str:
        moment = self.app.now().timestamp() if timestamp is None else timestamp
        return formatdate(moment, usegmt=True)

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return None
        length = _as_int(self.headers.get("Content-Length", "0") or "0") or 0
        return self.rfile.read(length) if length > 0 else b""

    def _parse_body(self, body: bytes) -> dict[str, Any]:
        """Form-encoded or JSON body parameters (Rails keeps the last of repeated keys)."""
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if not body:
            return {}
        if content_type == "application/json":
            decoded = json.loads(body.decode("utf-8"))
            if not isinstance(decoded, dict):
                raise ValueError("JSON body must be an object")
            return decoded
        if content_type in ("", "application/x-www-form-urlencoded"):
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
            return {k: v if k.endswith("[]") else v[-1] for k, v in form.items()}
        return {}

    def _handle(self) -> None:
        app = self.app
        with app._idle:
            app._in_flight += 1
        try:
            self._handle_inner(app)
        except OSError:
            self.close_connection = True
        except Exception:  # a bug in the test server: answer 500 and keep the traceback
            app.internal_errors.append(traceback.format_exc())
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send(app._json(500, {"error": "test server bug (see internal_errors)"}))
        finally:
            with app._idle:
                app._in_flight -= 1
                app._idle.notify_all()

    def _handle_inner(self, app: MastodonTestServer) -> None:
        record, request = self._parse_request(app)
        response = self._respond(app, request, record) if isinstance(request, _Request) else request
        if response is None:
            self._drop()
            return
        record.status = response.status
        self._send(response)

    def _parse_request(
        self, app: MastodonTestServer
    ) -> tuple[RecordedRequest, _Request | _Response]:
        """Read and log the request; return it, or the error response for a malformed one."""
        split = urlsplit(self.path)
        path = _normalize_path(split.path)
        query = parse_qs(split.query, keep_blank_values=True)
        redacted = {
            name: ("Bearer [redacted]" if name.lower() == "authorization" else value)
            for name, value in self.headers.items()
        }
        record = RecordedRequest(self.command, path, query, redacted, {}, app.now())
        app._record(record)
        body = self._read_body()
        if body is None:
            self.close_connection = True
            return record, app._json(411, {"error": "Length Required"})
        try:
            form = self._parse_body(body)
        except (ValueError, UnicodeDecodeError):
            error = {"error": "Error occurred while parsing request parameters"}
            return record, app._json(400, error)
        record.form = form
        params: dict[str, Any] = {k: v if k.endswith("[]") else v[-1] for k, v in query.items()}
        params.update(form)
        request = _Request(
            method=self.command,
            path=path,
            query=query,
            params=params,
            headers={name.lower(): value for name, value in self.headers.items()},
            client_ip=self.client_address[0],
        )
        with app._lock:
            account = app._account_for(request)
            record.username = account.username if account else None
        return record, request

    @staticmethod
    def _respond(
        app: MastodonTestServer, request: _Request, record: RecordedRequest
    ) -> _Response | None:
        """The response to send, or None to drop the connection without one."""
        if app.delay > 0 and app._stopping.wait(app.delay):
            return None
        fault = app._take_fault(request.method, request.path)
        if fault is None:
            return app._dispatch(request)
        record.fault = fault.kind
        if fault.kind in ("lost_response", "lost_response_502"):
            app._dispatch(request)  # processed for real; only the answer gets lost
        if fault.delay > 0 and app._stopping.wait(fault.delay):
            return None
        if fault.kind in ("drop", "lost_response"):
            return None
        if fault.kind == "delay":
            return app._dispatch(request)
        return app._fault_response(fault, request)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, response: _Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
