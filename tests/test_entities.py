"""The gazetteer and the mentions found with it."""

import time

import pytest

from extract.entities import GazetteerError, find_mentions, load_gazetteer


def mentions(text: str) -> dict[str, int]:
    return {m.entity_id: m.count for m in find_mentions(text)}


def test_gazetteer_lists_the_43_territorial_forces_of_england_and_wales():
    forces = [
        e
        for e in load_gazetteer()
        if e.kind == "force" and e.category == "territorial" and e.country in ("England", "Wales")
    ]
    assert len(forces) == 43
    assert {"metropolitan-police", "dyfed-powys", "city-of-london", "wiltshire"} <= {
        e.id for e in forces
    }


def test_gazetteer_has_the_national_forces_and_oversight_bodies():
    ids = {e.id for e in load_gazetteer()}
    assert {
        "british-transport-police",
        "police-scotland",
        "psni",
        "ministry-of-defence-police",
        "civil-nuclear-constabulary",
        "iopc",
        "hmicfrs",
        "npcc",
        "college-of-policing",
        "home-office",
        "pcc",
    } <= ids


def test_the_met_is_the_metropolitan_police():
    text = (
        "The Met said it would review the case. A Met Police spokesperson and the "
        "Metropolitan Police Service both declined to comment on the Metropolitan police."
    )
    found = {m.entity_id: m for m in find_mentions(text)}
    assert set(found) == {"metropolitan-police"}
    assert found["metropolitan-police"].count == 4


def test_the_met_office_is_not_the_met():
    assert mentions("The Met Office issued a warning as the Met Gala opened.") == {}


def test_ipcc_counts_as_the_iopc_former_name():
    found = find_mentions(
        "The Independent Police Complaints Commission (IPCC) investigated the officer's "
        "conduct in 2015. Its successor, the IOPC, reopened the case."
    )
    assert [(m.entity_id, m.count) for m in found] == [("iopc", 3)]
    iopc = next(e for e in load_gazetteer() if e.id == "iopc")
    assert "Independent Police Complaints Commission" in iopc.former_names


def test_ipcc_in_a_climate_story_is_not_the_police_watchdog():
    assert mentions("The IPCC report says global temperatures will rise by 1.5C by 2040.") == {}


def test_longest_name_wins():
    found = mentions("Greater Manchester Police and the Scottish Police Federation responded.")
    assert found == {"greater-manchester": 1, "scottish-police-federation": 1}


def test_police_and_crime_commissioner_is_not_the_force():
    found = mentions(
        "Kent Police and Crime Commissioner Matthew Scott said Kent Police had improved. "
        "Essex Police, Fire and Crime Commissioner Roger Hirst agreed."
    )
    assert found == {"pcc": 2, "kent": 1}


def test_acronyms_match_in_capitals_and_as_whole_words_only():
    assert mentions("The cps and npcc are lower case; HMICFRSX is not a word.") == {}
    assert mentions("HMICFRS inspected the force; the NPCC replied.") == {"hmicfrs": 1, "npcc": 1}


def test_name_variants_are_recognised():
    found = mentions(
        "Avon & Somerset Constabulary, Dyfed Powys Police and the National Police Chiefs’ "
        "Council met the College of Policing at the Home Office."
    )
    assert found == {
        "avon-and-somerset": 1,
        "dyfed-powys": 1,
        "npcc": 1,
        "college-of-policing": 1,
        "home-office": 1,
    }


def test_a_name_broken_across_lines_is_found():
    assert mentions("officers from West Midlands\nPolice attended") == {"west-midlands": 1}


def test_american_police_departments_are_not_uk_forces():
    assert mentions("The Norfolk Police Department in Virginia made an arrest.") == {}


def test_surface_keeps_the_name_the_document_used():
    [mention] = find_mentions("HMIC inspected the force. HMIC found failings. The HMICFRS report")
    assert (mention.entity_id, mention.count, mention.surface) == ("hmicfrs", 3, "HMIC")


def test_finding_mentions_costs_little_per_document():
    text = (
        "The officer was dismissed after an investigation by the Independent Office for Police "
        "Conduct into how West Midlands Police handled a complaint from a member of the public. "
    ) * 40  # about 1,000 words
    find_mentions(text)
    started = time.perf_counter()
    for _ in range(20):
        find_mentions(text)
    assert (time.perf_counter() - started) / 20 < 0.02


def test_malformed_gazetteer_is_refused_naming_entity_and_field(tmp_path):
    path = tmp_path / "gazetteer.toml"
    path.write_text('[[entities]]\nid = "kent"\nname = "Kent Police"\nkind = "forse"\n')
    with pytest.raises(GazetteerError, match=r"gazetteer.toml: entity 'kent': field 'kind'"):
        load_gazetteer(path)


def test_the_same_name_for_two_entities_is_refused(tmp_path):
    path = tmp_path / "gazetteer.toml"
    path.write_text(
        '[[entities]]\nid = "a"\nname = "Kent Police"\nkind = "force"\n'
        '[[entities]]\nid = "b"\nname = "B Police"\nkind = "force"\naliases = ["Kent police"]\n'
    )
    with pytest.raises(GazetteerError, match="'Kent police' is also a name of 'a'"):
        load_gazetteer(path)
