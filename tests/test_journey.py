"""Journey maps: the default map, loading, validation errors, queries."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from cjml import JourneyMap, JourneyMapError, Touchpoint
from cjml.journey import DEFAULT_STAGES

SAAS = {
    "name": "saas",
    "stages": ["visitor", "trial", "paying", "expanding", "advocate"],
    "touchpoints": {
        "signup": {"channel": "online", "stages": ["visitor", "trial"]},
        "onboarding_email": {
            "channel": "online",
            "stages": ["trial"],
            "actionable": True,
            "cost": 0.1,
        },
        "success_call": {
            "channel": "offline",
            "stages": ["paying", "expanding"],
            "actionable": True,
            "cost": 12,
        },
        "invoice_paid": {"channel": "online", "stages": ["paying", "expanding", "advocate"]},
    },
}


def test_default_map_follows_the_domain():
    jm = JourneyMap.default()
    assert jm.stages == DEFAULT_STAGES
    assert 12 <= len(jm.touchpoints) <= 16
    assert set(jm.actionable_touchpoints) == {
        "email",
        "live_chat",
        "free_trial",
        "consultation",
        "follow_up_call",
        "renewal_reminder",
        "personalised_offer",
        "loyalty_reward",
        "referral_invite",
    }
    assert not jm["purchase"].actionable and not jm["support_ticket"].actionable
    assert jm["store_visit"].channel == "offline"
    assert all(jm[t].cost is not None for t in jm.actionable_touchpoints)
    # every stage has something the business can do, except awareness (ads are observed)
    for stage in DEFAULT_STAGES[1:]:
        assert jm.eligible_touchpoints(stage), stage
    assert jm.eligible_touchpoints("awareness") == ()


def test_eligibility_and_stage_bounds():
    jm = JourneyMap.from_dict(SAAS)
    assert jm.eligible_touchpoints("trial") == ("onboarding_email",)
    assert jm.eligible_touchpoints("expanding") == ("success_call",)
    elig = jm.eligibility_matrix()
    assert elig.shape == (5, 4)
    signup = jm.touchpoint_names.index("signup")
    assert elig[:, signup].tolist() == [True, True, False, False, False]
    lo, hi = jm.stage_bounds()
    np.testing.assert_array_equal(lo, [0, 1, 2, 2])
    np.testing.assert_array_equal(hi, [1, 1, 3, 4])
    assert jm.costs()["success_call"] == 12.0 and jm.costs()["signup"] is None


def test_list_form_and_round_trip_through_dict_toml_and_json(tmp_path):
    as_list = {**SAAS, "touchpoints": [{"name": k, **v} for k, v in SAAS["touchpoints"].items()]}
    jm = JourneyMap.from_dict(as_list)
    assert JourneyMap.from_dict(jm.to_dict()) == jm
    path = tmp_path / "map.json"
    path.write_text(json.dumps(jm.to_dict()))
    assert JourneyMap.from_file(path) == jm
    toml = tmp_path / "map.toml"
    toml.write_text(
        'name = "saas"\nstages = ["visitor", "trial", "paying", "expanding", "advocate"]\n'
        '[touchpoints.signup]\nchannel = "online"\nstages = ["visitor", "trial"]\n'
        '[touchpoints.onboarding_email]\nchannel = "online"\nstages = ["trial"]\n'
        "actionable = true\ncost = 0.1\n"
        '[touchpoints.success_call]\nchannel = "offline"\nstages = ["paying", "expanding"]\n'
        "actionable = true\ncost = 12\n"
        '[touchpoints.invoice_paid]\nchannel = "online"\n'
        'stages = ["paying", "expanding", "advocate"]\n'
    )
    assert JourneyMap.from_file(toml) == jm
    assert JourneyMap.coerce(str(toml)) == jm
    assert JourneyMap.coerce(None) == JourneyMap.default()
    assert pickle.loads(pickle.dumps(jm)) == jm


def _with(**changes):
    spec = json.loads(json.dumps(SAAS))
    for key, value in changes.items():
        if key in ("stages", "name"):
            spec[key] = value
        else:
            spec["touchpoints"][key] = value
    return spec


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (_with(stages=[]), "empty stage list"),
        (_with(stages=["visitor", "trial", "visitor"]), r"Duplicate stage names.*'visitor'"),
        (_with(stages=["visitor", "dropped"]), "'dropped' cannot be a stage name"),
        (
            _with(signup={"channel": "online", "stages": ["vistor"]}),
            r"Touchpoint 'signup' names unknown stage 'vistor'.*Did you mean 'visitor'",
        ),
        (_with(signup={"channel": "web", "stages": ["visitor"]}), r"channel 'web'; allowed"),
        (_with(signup={"channel": "online", "stages": []}), "lists no stages"),
        (_with(signup={"channel": "online", "stages": ["visitor"], "cost": -1}), "non-negative"),
        (
            _with(signup={"channel": "online", "stages": ["visitor"], "cost": "cheap"}),
            "not a number",
        ),
        (
            _with(signup={"channel": "online", "stages": ["visitor"], "actionable": "yes"}),
            "use true or false",
        ),
        (
            _with(signup={"channel": "online", "stages": ["visitor"], "stage": ["x"]}),
            r"unknown attribute 'stage'.*Did you mean 'stages'",
        ),
        (_with(signup={"stages": ["visitor"]}), "has no 'channel'"),
        ({"stages": ["a"]}, "no 'touchpoints' entry"),
        ({"stages": ["a"], "touchpoints": {}, "stagse": 1}, "Unknown journey map keys"),
    ],
)
def test_invalid_maps_are_explained(spec, message):
    with pytest.raises(JourneyMapError, match=message):
        JourneyMap.from_dict(spec)


def test_purchase_marks_are_checked_and_left_out_of_maps_without_them():
    spec = JourneyMap.default().to_dict()
    assert all("purchase" not in t for t in spec["touchpoints"].values())
    assert JourneyMap.default().purchase_touchpoints == ()
    spec["touchpoints"]["purchase"]["purchase"] = True
    marked = JourneyMap.from_dict(spec)
    assert marked.purchase_touchpoints == ("purchase",)
    assert marked.to_dict()["touchpoints"]["purchase"]["purchase"] is True
    assert "purchase = true" in marked.to_toml()
    spec["touchpoints"]["purchase"]["purchase"] = "yes"
    with pytest.raises(JourneyMapError, match="has purchase = 'yes'; use true or false"):
        JourneyMap.from_dict(spec)


def test_duplicate_touchpoint_names_are_refused():
    tp = Touchpoint("signup", "online", ("visitor",))
    with pytest.raises(JourneyMapError, match=r"Duplicate touchpoint names.*'signup'"):
        JourneyMap(stages=("visitor",), touchpoints=(tp, tp))
    listed = [{"name": "signup", "channel": "online", "stages": ["visitor"]}] * 2
    with pytest.raises(JourneyMapError, match="Duplicate touchpoint names"):
        JourneyMap.from_dict({"stages": ["visitor"], "touchpoints": listed})


def test_map_errors_are_value_errors():
    with pytest.raises(ValueError):
        JourneyMap.from_dict({"stages": [], "touchpoints": {}})


def test_bad_files(tmp_path):
    with pytest.raises(JourneyMapError, match="does not exist"):
        JourneyMap.from_file(tmp_path / "none.toml")
    yaml = tmp_path / "map.yaml"
    yaml.write_text("stages: [a]")
    with pytest.raises(JourneyMapError, match=r"must end in \.toml or \.json"):
        JourneyMap.from_file(yaml)
    broken = tmp_path / "map.toml"
    broken.write_text("stages = [")
    with pytest.raises(JourneyMapError, match="is not valid"):
        JourneyMap.from_file(broken)


def test_unknown_names_suggest_the_closest():
    jm = JourneyMap.default()
    with pytest.raises(JourneyMapError, match="Did you mean 'email'"):
        jm["emial"]
    with pytest.raises(JourneyMapError, match="Did you mean 'loyalty'"):
        jm.stage_index("loyality")
    assert "email" in jm and "fax" not in jm


def test_html_and_repr():
    jm = JourneyMap.default()
    html = jm._repr_html_()
    assert "personalised_offer" in html and "<table>" in html
    assert repr(jm) == (
        "JourneyMap(name='default', stages=['awareness', 'consideration', "
        "'conversion', 'retention', 'loyalty'], touchpoints=16, actionable=9)"
    )


def test_html_escapes_user_names():
    jm = JourneyMap.from_dict(
        {
            "stages": ["<b>s</b>"],
            "touchpoints": {"<script>x</script>": {"channel": "online", "stages": ["<b>s</b>"]}},
        }
    )
    html = jm._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>s</b>" not in html


@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        (
            "map.toml",
            'name = "m"\nstages = ["a"]\n[touchpoints.x]\nstages = ["a"]\nactionable = yes\n',
            [
                "is not valid TOML: Invalid value (at line 5, column 14):",
                "\n  actionable = yes\n               ^\n",
                '(text is written in quotes, "yes", and true or false in lower case)',
                "Fix: see the layout in the README ('Journey maps').",
            ],
        ),
        (
            "map.json",
            '{"name": "m", "stages": ["a",]}',
            ["is not valid JSON: Expecting value", '\n  {"name": "m", "stages": ["a",]}\n'],
        ),
    ],
)
def test_a_map_file_with_a_syntax_error_shows_the_line_and_the_usual_slip(
    tmp_path, name, text, said
):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(JourneyMapError) as info:
        JourneyMap.from_file(path)
    message = str(info.value)
    for part in said:
        assert part in message
    caret = message.splitlines()[2]  # under the column the parser names
    assert caret.index("^") == message.splitlines()[1].index("yes" if "toml" in name else "]")
