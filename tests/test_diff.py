"""Content hashes that decide when a document has a new version, and diffs between versions."""

import time

from extract.diff import content_hash, diff_ops, normalise_for_hash, word_diff

TEXT = "The IOPC received 490 corruption referrals in 2022/23, more than double the year before."


def test_whitespace_change_does_not_change_content_hash():
    reflowed = TEXT.replace(" ", "  ").replace("referrals in", "referrals\n\tin") + "\n"
    assert content_hash("Corruption referrals", reflowed) == content_hash(
        " Corruption  referrals", TEXT
    )


def test_curly_quotes_dashes_and_invisible_characters_do_not_change_content_hash():
    straight = 'The chief constable said: "It\'s a disgrace" - and resigned.'
    curly = "The chief\u00a0constable said: \u201cIt\u2019s a dis\u00adgrace\u201d \u2013 and resigned.\u200b"
    assert content_hash(None, straight) == content_hash(None, curly)


def test_a_changed_number_changes_content_hash():
    assert content_hash("T", TEXT) != content_hash("T", TEXT.replace("490", "409"))


def test_a_changed_title_changes_content_hash():
    assert content_hash("Referrals rise", TEXT) != content_hash("Referrals double", TEXT)


def test_title_and_text_do_not_run_into_each_other():
    assert normalise_for_hash("Police", "watchdog") != normalise_for_hash(None, "Police watchdog")


def test_word_diff_marks_removed_and_added_words():
    new = TEXT.replace("490", "409").replace("more than double", "almost double")
    assert word_diff(TEXT, new) == (
        "The IOPC received [-490-] {+409+} corruption referrals in 2022/23, "
        "[-more than-] {+almost+} double the year before."
    )


def test_word_diff_trims_unchanged_text_between_distant_changes():
    middle = " ".join(f"word{i}" for i in range(200))
    old = f"Opening line {middle} closing line."
    new = f"Revised line {middle} closing sentence."
    assert word_diff(old, new) == (
        "[-Opening-] {+Revised+} line word0 word1 word2 … word197 word198 word199 closing "
        "[-line.-] {+sentence.+}"
    )


def test_word_diff_of_the_same_words_is_empty():
    assert word_diff(TEXT, TEXT.replace(" ", "\n")) == ""


def test_diff_ops_cover_the_whole_new_text_in_order():
    ops = diff_ops("a b c d e", "a x c d e f")
    assert ops == [
        ("equal", "a"),
        ("delete", "b"),
        ("insert", "x"),
        ("equal", "c d e"),
        ("insert", "f"),
    ]
    assert " ".join(text for op, text in ops if op != "delete") == "a x c d e f"
    assert " ".join(text for op, text in ops if op != "insert") == "a b c d e"


def test_diff_of_long_versions_is_quick():
    old = " ".join(f"w{i % 997} the of" for i in range(5000))
    new = old.replace("w5 the of", "w5 a of", 20) + " appended words"
    started = time.perf_counter()
    result = word_diff(old, new)
    assert time.perf_counter() - started < 2
    assert "{+a+}" in result and result.endswith("{+appended words+}")
