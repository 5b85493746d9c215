"""Near-duplicate detection: syndicated copies of one story are found, different stories are not."""

import subprocess
import sys

import pytest

from extract.similarity import NearDuplicateIndex, signature, similarity

STORY = """
A police officer who punched a handcuffed man in the face during an arrest in Swindon has been
dismissed without notice after a misconduct hearing found he had used excessive force. The
Independent Office for Police Conduct began its investigation after Wiltshire Police referred the
incident in March last year, when body-worn video footage reviewed by a supervisor showed the
constable striking the man twice while he was restrained on the ground outside a nightclub. The
panel heard that the officer had not reported the use of force and had given an account in his
statement that was contradicted by the footage. IOPC regional director Catherine Bates said the
public rightly expects officers to act professionally and to use force only when it is necessary
and proportionate, and that this officer fell far short of those standards. The officer will be
placed on the barred list held by the College of Policing, which prevents him from working in
policing again. Wiltshire Police said it welcomed the outcome and that the behaviour shown in the
footage had no place in the force. The man, who was later released without charge, made a formal
complaint about his treatment the following week.
"""

OTHER_STORY = """
Three forces have been told to improve how they record crime after an inspection found that
thousands of reports of violence, including domestic abuse, were missing from official figures.
His Majesty's Inspectorate of Constabulary and Fire and Rescue Services said the forces failed to
record an estimated one in seven violent crimes reported to them, leaving victims without the
support they were entitled to. Inspectors examined hundreds of incident logs from the past year
and found that calls about stalking and harassment were the most likely to be missed. The
inspectorate made six recommendations and said it would return within twelve months to check on
progress. The chief constable of one force said work was already under way to train call handlers
and review every incident closed without a crime being recorded. The force said it accepted the
findings in full and had appointed a senior officer to lead the improvement plan across all
districts.
"""


def syndicated_copy(text: str) -> tuple[str, str]:
    """The same story on a regional site: a new headline, a light edit, the agency's sign-off.

    Signatures are taken over the body text; the headline, which syndicating sites rewrite, is
    the document's title.
    """
    headline = "Swindon officer sacked for punching handcuffed man outside nightclub"
    body = text.replace("last year", "in 2023")
    return headline, body + "\nReporting by the Local Democracy Reporting Service."


def test_syndicated_copy_with_new_headline_is_a_near_duplicate():
    index = NearDuplicateIndex()
    index.add(1, signature(STORY))
    index.add(2, signature(OTHER_STORY))
    headline, body = syndicated_copy(STORY)
    assert headline not in STORY
    copy = signature(body)
    assert similarity(signature(STORY), copy) >= 0.8
    assert index.query(copy) == [1]


def test_a_different_story_on_the_same_subject_is_not_a_near_duplicate():
    shared_boilerplate = "\nNotes to editors: the IOPC oversees the police complaints system."
    index = NearDuplicateIndex()
    index.add(1, signature(STORY + shared_boilerplate))
    other = signature(OTHER_STORY + shared_boilerplate)
    assert similarity(signature(STORY + shared_boilerplate), other) < 0.2
    assert index.query(other) == []


def test_reformatting_does_not_change_the_signature():
    reformatted = STORY.upper().replace("\n", "  ").replace(", ", " , ")
    assert signature(reformatted) == signature(STORY)


def test_short_texts_are_never_matched():
    notice = "This page has been archived. Contact the press office for details."
    assert signature(notice) == b""
    index = NearDuplicateIndex()
    index.add(1, signature(notice))
    assert len(index) == 0
    assert index.query(signature(notice)) == []
    assert similarity(signature(notice), signature(notice)) == 0.0


def test_matches_are_listed_earliest_added_first():
    index = NearDuplicateIndex()
    for doc_id in (30, 10, 20):
        index.add(doc_id, signature(STORY))
    assert index.query(signature(syndicated_copy(STORY)[1])) == [30, 10, 20]
    index.remove(10)
    assert index.query(signature(STORY)) == [30, 20]


def test_readding_a_changed_document_replaces_its_signature():
    index = NearDuplicateIndex()
    index.add(1, signature(STORY))
    index.add(1, signature(OTHER_STORY))
    assert index.query(signature(STORY)) == []
    assert index.query(signature(OTHER_STORY)) == [1]


def test_signature_is_the_same_in_another_process():
    code = f"from extract.similarity import signature; print(signature({STORY!r}).hex())"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert bytes.fromhex(result.stdout.strip()) == signature(STORY)
    assert len(signature(STORY)) <= 520


def test_a_signature_from_elsewhere_is_refused():
    with pytest.raises(ValueError, match="not a signature"):
        similarity(b"\x00" * 513, signature(STORY))


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = text.casefold().replace(".", " ").replace(",", " ").split()
    return {tuple(words[i : i + 5]) for i in range(len(words) - 4)}


@pytest.mark.parametrize("kept", [1.0, 0.9, 0.75, 0.5, 0.25])
def test_estimated_similarity_tracks_the_exact_share_of_shingles(kept):
    # Keep the first part of STORY and continue with OTHER_STORY: the exact Jaccard similarity
    # of the shingle sets is known, and 128 permutations estimate it within about 0.05 (one
    # standard deviation); a broken permutation or mixing step is off by far more.
    words, other = STORY.split(), OTHER_STORY.split()
    cut = int(len(words) * kept)
    mixed = " ".join(words[:cut] + other[: len(words) - cut])
    a, b = _shingles(STORY), _shingles(mixed)
    exact = len(a & b) / len(a | b)
    assert abs(similarity(signature(STORY), signature(mixed)) - exact) < 0.15
