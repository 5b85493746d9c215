"""Comparing a news story's figures with those of the watchdog statement it cites."""

from crawler.linking import live_versions
from extract.citations import CitedVersion, FigureCheck, compare_across_versions, compare_figures
from extract.records import Figure


def fig(value, unit=None, sentence="", kind="count", **extra) -> Figure:
    return Figure(
        text=str(value),
        start=0,
        end=1,
        kind=kind,
        value=value,
        unit=unit,
        sentence=sentence,
        **extra,
    )


STATEMENT = "The IOPC received 490 corruption referrals from police forces in 2022/23."
STORY = "Police forces made 490 referrals about corruption to the IOPC last year, figures show."


def test_same_value_and_unit_is_quoted():
    checks = compare_figures(
        [fig(490, "referral", STORY)],
        [
            fig(12, "officer", "Twelve officers were dismissed."),
            fig(490, "corruption referral", STATEMENT),
        ],
    )
    assert checks == [FigureCheck(0, 1, "quoted", "")]


def test_rounded_figure_is_flagged_for_checking():
    citing = fig(
        118,
        "day",
        "Investigations into police corruption took 118 days on average.",
        kind="duration",
    )
    cited = fig(
        117.6,
        "day",
        "On average, corruption investigations took 117.6 days to complete.",
        kind="duration",
    )
    assert compare_figures([citing], [cited]) == [
        FigureCheck(0, 0, "check", "rounded: 118 vs 117.6")
    ]


def test_wrong_number_is_flagged_with_both_values():
    [check] = compare_figures([fig(409, "referral", STORY)], [fig(490, "referral", STATEMENT)])
    assert check.status == "check"
    assert check.note.startswith("different value: 409 vs 490")


def test_same_unit_in_an_unrelated_sentence_is_not_a_near_miss():
    citing = fig(409, "referral", STORY)
    cited = fig(75, "referral", "The charity made 75 referrals to housing services in Leeds.")
    assert compare_figures([citing], [cited]) == []


def test_different_units_are_not_compared():
    citing = fig(490, "officer", "Police forces suspended 490 officers over corruption last year.")
    assert compare_figures([citing], [fig(490, "referral", STATEMENT)]) == []


def test_years_and_dates_are_never_flagged():
    sentence = "The IOPC published its corruption review in 2023 after referrals rose."
    citing = [
        fig(2023, None, sentence, kind="year"),
        fig(2022, None, sentence),
        fig(20230401, None, sentence, kind="date"),
    ]
    cited = [fig(2022, None, sentence, kind="year"), fig(2021, None, sentence)]
    assert compare_figures(citing, cited) == []


def test_trivial_numbers_are_not_flagged():
    citing = fig(2, "officer", "Two officers from the Met were dismissed for gross misconduct.")
    cited = fig(3, "officer", "Three Met officers were dismissed for gross misconduct.")
    assert compare_figures([citing], [cited]) == []


def test_each_citing_figure_gets_at_most_one_check():
    citing = [fig(500, "referral", STORY)]
    cited = [
        fig(490, "referral", STATEMENT),
        fig(610, "referral", "The IOPC received 610 corruption referrals from forces in 2021/22."),
        fig(512, "referral", "Police forces made 512 referrals about misconduct."),
    ]
    checks = compare_figures(citing, cited)
    assert len(checks) == 1
    assert checks[0] == FigureCheck(0, 0, "check", "rounded: 500 vs 490")


def test_a_share_written_as_words_quotes_a_percentage():
    citing = fig(0.2, None, "One in five complaints were about police use of force.", kind="ratio")
    cited = fig(20, None, "Use of force accounted for 20% of complaints.", kind="percent")
    assert compare_figures([citing], [cited]) == [FigureCheck(0, 0, "quoted", "")]


def test_money_in_millions_matches_the_same_sum_in_whole_pounds():
    citing = fig(1_200_000, "GBP", "The force paid £1.2m in compensation.", kind="money")
    cited = [
        fig(1_200_000, "USD", "The force paid $1.2m in compensation.", kind="money"),
        fig(
            1_200_000, "GBP", "Compensation payments by the force came to £1,200,000.", kind="money"
        ),
    ]
    assert compare_figures([citing], cited) == [FigureCheck(0, 1, "quoted", "")]


def test_rounded_money_is_flagged():
    citing = fig(1_200_000, "GBP", "The force paid £1.2m in compensation to victims.", kind="money")
    cited = fig(
        1_234_567, "GBP", "The force paid compensation of £1,234,567 to victims.", kind="money"
    )
    [check] = compare_figures([citing], [cited])
    assert check.note == "rounded: £1,200,000 vs £1,234,567"


def test_a_stated_approximation_that_holds_is_quoted():
    citing = fig(400, "referral", STORY, qualifier="more than")
    [check] = compare_figures([citing], [fig(409, "referral", STATEMENT)])
    assert (check.status, check.note) == ("quoted", "approximate: more than 400 vs 409")


def test_same_count_out_of_a_different_total_is_flagged():
    citing = fig(118, "referral", STORY, denominator=409)
    cited = fig(118, "referral", STATEMENT, denominator=490)
    [check] = compare_figures([citing], [cited])
    assert check.status == "check"
    assert check.note == "different denominator: 118 of 409 vs 118 of 490"


def test_a_far_off_round_number_is_not_called_rounded():
    [check] = compare_figures([fig(100, "referral", STORY)], [fig(60, "referral", STATEMENT)])
    assert check.note == "different value: 100 vs 60"


def test_a_count_out_of_the_same_total_is_checked_though_the_sentences_differ():
    checks = compare_figures(
        [fig(119, "referral", "The report shows 119 of 490 were investigated.", denominator=490)],
        [fig(122, "referral", "We received 122 of 490 that met the threshold.", denominator=490)],
    )
    assert checks == [FigureCheck(0, 0, "check", "different value: 119 vs 122")]


def test_rates_per_the_same_base_are_not_one_fact_for_that_alone():
    checks = compare_figures(
        [fig(43, "stop", "Kent made 43 stops per 100,000 people.", denominator=100_000)],
        [fig(12, "stop", "Essex recorded 12 stops per 100,000 residents.", denominator=100_000)],
    )
    assert checks == []


def test_a_terse_sentence_whose_every_word_is_shared_is_context_enough():
    checks = compare_figures(
        [fig(12, "percent", "Referrals were up 12% year on year.", kind="change")],
        [fig(14, "percent", "Referrals were up 14% on the previous year.", kind="change")],
    )
    assert checks == [FigureCheck(0, 0, "check", "different value: 12% vs 14%")]


def test_words_are_matched_by_their_stems():
    checks = compare_figures(
        [fig(1_200_000, "GBP", "Referrals were investigated at a cost of £1.2m.", kind="money")],
        [fig(1_400_000, "GBP", "The cost of these investigations was £1.4 million.", kind="money")],
    )
    assert checks == [FigureCheck(0, 0, "check", "different value: £1,200,000 vs £1,400,000")]


def test_durations_of_different_things_in_similar_sentences_are_not_compared():
    resolve = "Forces must resolve complaints within 120 days, the IOPC said in its annual report."
    suspend = "Officers were suspended for 28 days, the IOPC said in its annual report."
    investigate = "Investigations into complaints took 145 days on average in 2023."
    average = "The average complaint investigation took 150 days last year."
    checks = compare_figures(
        [fig(120, "day", resolve, kind="duration"), fig(145, "day", investigate, kind="duration")],
        [fig(28, "day", suspend, kind="duration"), fig(150, "day", average, kind="duration")],
    )
    assert checks == [FigureCheck(1, 1, "check", "different value: 145 vs 150")]


def test_the_same_duration_of_a_different_thing_is_not_a_quote():
    checks = compare_figures(
        [fig(28, "day", "He was jailed for 28 days for the assault.", kind="duration")],
        [fig(28, "day", "Complaints must be logged within 28 days.", kind="duration")],
    )
    assert checks == []


RELEASE = (
    "Of these, {n} of 490 corruption referrals were for abuse of position for a sexual purpose."
)
QUOTE = "Watchdog figures show 118 of 490 corruption referrals were for abuse of position."


def version(day: str, *figures: Figure) -> CitedVersion:
    return CitedVersion(f"{day}T09:00:00+00:00", figures=list(figures))


def referrals(n: int) -> Figure:
    return fig(n, "corruption referral", RELEASE.format(n=n), denominator=490)


def test_a_quote_of_a_figure_edited_after_publication_stays_quoted_and_says_so():
    checks = compare_across_versions(
        [fig(118, "corruption referral", QUOTE, denominator=490)],
        [version("2025-02-28", referrals(118)), version("2025-03-10", referrals(121))],
    )
    assert checks == [
        FigureCheck(
            0,
            0,
            "quoted",
            "matches the version seen 2025-02-28; edited 2025-03-10 to 121",
            "2025-03-10T09:00:00+00:00",
        )
    ]


def test_a_check_the_edits_left_alone_is_the_one_against_the_current_version():
    citing = [fig(118, "corruption referral", QUOTE, denominator=490)]
    unrelated = fig(52, "theft referral", "Theft accounted for 52 referrals.")
    edited = [
        version("2025-02-28", referrals(118)),
        version("2025-03-10", unrelated, referrals(118)),
    ]
    assert compare_across_versions(citing, edited) == compare_figures(citing, edited[-1].figures)
    assert compare_across_versions(citing, edited)[0].cited_index == 1


def test_a_quoted_figure_an_edit_took_out_has_no_current_figure():
    unrelated = fig(52, "theft referral", "Theft accounted for 52 referrals.")
    [check] = compare_across_versions(
        [fig(118, "corruption referral", QUOTE, denominator=490)],
        [version("2025-02-28", referrals(118)), version("2025-03-10", unrelated)],
    )
    assert (check.status, check.cited_index) == ("quoted", None)
    assert check.note == "matches the version seen 2025-02-28; edited 2025-03-10, which took it out"


def test_a_misquote_the_cited_document_later_agreed_with_stays_flagged():
    [check] = compare_across_versions(
        [fig(125, "corruption referral", QUOTE.replace("118", "125"), denominator=490)],
        [version("2025-02-28", referrals(118)), version("2025-03-10", referrals(125))],
    )
    assert check.status == "check"
    assert check.note == (
        "different value: 125 vs 118 in the version seen 2025-02-28; edited 2025-03-10 to 125"
    )


def test_the_edit_named_is_the_first_that_changed_the_figure():
    title = fig(3, "force", "The report covers 3 forces.")
    [check] = compare_across_versions(
        [fig(118, "corruption referral", QUOTE, denominator=490)],
        [
            version("2025-02-28", referrals(118)),
            version("2025-03-05", title, referrals(118)),
            version("2025-03-10", title, referrals(120)),
            version("2025-03-20", title, referrals(121)),
        ],
    )
    assert check.note == "matches the version seen 2025-02-28; edited 2025-03-10 to 120, now 121"
    assert check.edited == "2025-03-10T09:00:00+00:00"


def test_a_figure_only_a_later_version_has_is_checked_against_it_and_says_so():
    [check] = compare_across_versions(
        [fig(118, "corruption referral", QUOTE, denominator=490)],
        [version("2025-02-28"), version("2025-03-10", referrals(118))],
    )
    assert (check.status, check.cited_index) == ("quoted", 0)
    assert check.note == (
        "matches the version seen 2025-03-10; added 2025-03-10, after this was published"
    )


def test_an_older_versions_figures_are_found_in_its_text():
    old = CitedVersion("2025-02-28T09:00:00+00:00", RELEASE.format(n=118))
    [check] = compare_across_versions(
        [fig(118, "corruption referral", QUOTE, denominator=490)],
        [old, version("2025-03-10", referrals(121))],
    )
    assert check.note == "matches the version seen 2025-02-28; edited 2025-03-10 to 121"


SEEN = ["2025-02-28T09:00:00+00:00", "2025-03-10T16:00:00+00:00", "2025-03-20T09:00:00+00:00"]


def test_a_story_is_checked_against_the_version_live_when_it_was_published():
    assert live_versions(SEEN, "2025-03-12T10:00:00+00:00") == [1]
    assert live_versions(SEEN, "2025-03-10T15:00:00Z") == [0]


def test_a_story_older_than_the_archived_copy_is_checked_against_its_first_version():
    assert live_versions(SEEN, "2025-01-01") == [0]


def test_a_date_without_a_time_leaves_its_day_open():
    assert live_versions(SEEN, "2025-03-10") == [0, 1]
    assert live_versions(SEEN, "2025-03-11") == [1]


def test_a_story_with_an_unreadable_date_is_checked_against_the_current_version():
    assert live_versions(SEEN, "March 2025") == [2]
    assert live_versions(SEEN, None) == [2]


def test_an_amount_written_with_a_minus_sign_is_quoted_by_its_size():
    sentence = "The force's budget ended the year {} against its plan, the audit says."
    checks = compare_figures(
        [fig(1_200_000, "GBP", sentence.format("£1.2m short"), kind="money")],
        [fig(-1_200_000, "GBP", sentence.format("-£1.2m"), kind="money")],
    )
    assert [c.status for c in checks] == ["quoted"]
