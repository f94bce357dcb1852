"""The load area reads locust's CSV files safely and reports a failed phase instead of crashing (issue 18)."""

from __future__ import annotations

from bench import load

STATS_HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
    "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
)


def test_a_run_without_requests_gives_zero_rates_and_no_percentiles(tmp_path):
    stats = tmp_path / "stats.csv"
    stats.write_text(f"{STATS_HEADER}\n,Aggregated,0,0,0,0.0,0,0,0,0.0,0.0" + ",N/A" * 11 + "\n")

    figures = load._figures(stats)

    assert figures == {"all_requests_per_s": 0.0, "all_error_rate": 0.0, "all_requests": 0}


def test_rates_and_percentiles_per_request(tmp_path):
    stats = tmp_path / "stats.csv"
    percentiles = ",".join(str(ms) for ms in (20, 25, 30, 35, 50, 70, 80, 95, 120, 130, 140))
    stats.write_text(
        f"{STATS_HEADER}\n"
        f"GET,GET /api/repositories/{{id}},400,2,20,25.0,3,140,396,40.0,0.2,{percentiles}\n"
        f",Aggregated,400,2,20,25.0,3,140,396,40.0,0.2,{percentiles}\n"
    )

    figures = load._figures(stats)

    assert figures["get_api_repositories_id_error_rate"] == figures["all_error_rate"] == 2 / 400
    assert (figures["all_p50_ms"], figures["all_p99_ms"], figures["all_requests"]) == (20.0, 95.0, 400)


def test_failures_are_counted_per_http_status(tmp_path):
    failures = tmp_path / "failures.csv"
    failures.write_text(
        "Method,Name,Error,Occurrences,First Seen,Last Seen\n"
        "POST,POST /api/vcs/commit/{id},HTTPError('504 Server Error: Gateway Timeout for url: /c'),3,1,2\n"
        "GET,GET /api/repositories,HTTPError('503 Server Error: Service Unavailable for url: /r'),2,1,2\n"
        "GET,GET /api/repositories/{id},HTTPError('504 Server Error: Gateway Timeout for url: /r/1'),1,1,2\n"
        "GET,GET /api/repositories,ConnectionRefusedError(111),4,1,2\n"
    )

    counts = load._failures_by_status(failures)

    assert counts == {"all_failures_http_504": 4, "all_failures_http_503": 2, "all_failures_other": 4}


def test_a_failed_phase_is_reported_with_what_it_measured(monkeypatch):
    def measures_then_fails(run_seconds, figures):
        figures["partial_figure_s"] = 1.5
        raise ValueError("could not convert string to float: 'N/A'")

    def measures(run_seconds, figures):
        figures["next_figure_s"] = float(run_seconds)

    monkeypatch.setitem(load.PHASES, "first", measures_then_fails)
    monkeypatch.setitem(load.PHASES, "second", measures)

    figures = load.run(run_seconds=7, phases=("first", "second"))

    assert figures == {
        "partial_figure_s": 1.5,
        "first_phase_error": "ValueError: could not convert string to float: 'N/A'",
        "next_figure_s": 7.0,
    }
