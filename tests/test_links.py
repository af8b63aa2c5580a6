"""Share links under AppTest: a link that tries to inject markdown shows only literal text, an impossible
number in an integer setting is a warning (never a traceback) and the page still trains, and the link's
warnings go away once the settings are changed."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.test_params import code_spans_only

PAGE_FILE = Path(__file__).resolve().parent.parent / "pages" / "1_Train_and_compare.py"
INJECTION = (
    "`\n# Heading\n[Log in with your school account](https://evil.example/login) "
    "![x](https://evil.example/i.png) <img src=https://evil.example/p.png>"
)


def open_page(**query) -> AppTest:
    at = AppTest.from_file(str(PAGE_FILE), default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def elements(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from elements(child)


def link_warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "Link setting" in w.value]


def test_a_markdown_injecting_link_shows_only_literal_text():
    at = open_page(bn=INJECTION)
    assert not at.exception
    (warning,) = link_warnings(at)
    assert code_spans_only(warning) == ["bn=`\\n# Heading\\n[Log in with your school …"]
    protos = [str(getattr(e, "proto", "")) for e in [*elements(at.main), *elements(at.sidebar)]]
    assert sum("school" in p for p in protos) == 1  # the warning, and nothing else
    assert not any("evil.example" in p for p in protos)  # cut before the address
    assert at.segmented_control(key="train:bn").value == "both"
    assert at.query_params["bn"] == "both"  # the URL written back holds the default, not the link's text


def test_a_long_injecting_link_is_cut_and_kept_literal():
    at = open_page(bn="<b>" * 5 + INJECTION)
    (warning,) = link_warnings(at)
    (shown,) = code_spans_only(warning)
    assert shown == "bn=" + "<b>" * 5 + "`\\n# Heading\\n[Log in wi…"  # 40 characters of the link


def test_infinite_and_fractional_integer_settings_warn_and_the_page_still_trains():
    at = open_page(seed="inf", layers="1e999", steps="30.5")
    assert not at.exception
    warnings = {code_spans_only(w)[0]: w for w in link_warnings(at)}
    assert "ignored (not a finite number); using 0." in warnings["seed=inf"]
    assert "ignored (not one of 1, 2, 3, 4); using 1." in warnings["layers=1e999"]
    assert "ignored (not a whole number); using 500." in warnings["steps=30.5"]
    assert at.number_input(key="train:seed").value == 0 and at.number_input(key="train:steps").value == 500
    at.number_input(key="train:steps").set_value(30).run()
    at.button(key="run").click().run()
    job = at.session_state["train:job"][1]
    assert job.wait(300).state == "done"
    at.run()
    assert not at.exception and at.get("plotly_chart")


def test_link_warnings_stay_while_the_settings_are_the_links_and_go_once_they_change():
    at = open_page(seed="-3", steps="40")
    assert len(link_warnings(at)) == 1
    at.run()
    assert len(link_warnings(at)) == 1  # a rerun with the link's settings keeps it
    at.number_input(key="train:steps").set_value(50).run()
    assert link_warnings(at) == []
    assert not at.exception
