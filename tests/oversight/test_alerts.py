"""Webhook delivery against a real local HTTP server: body, retries with back-off, failures."""
from __future__ import annotations

import http.server
import json
import threading
import time

import pytest

from hitlgov.errors import HitlgovError
from hitlgov.oversight import alerts


class Hook:
    """A local HTTP server answering with a scripted list of status codes (then 200)."""

    def __init__(self, statuses=(), delay: float = 0.0, retry_after: str | None = None):
        self.statuses = list(statuses)
        self.received: list[dict] = []
        self.headers: list[dict] = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers["Content-Length"])
                hook.received.append(json.loads(self.rfile.read(length)))
                hook.headers.append(dict(self.headers))
                if delay:
                    time.sleep(delay)
                code = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(code)
                if retry_after and code == 429:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", "2")
                self.end_headers()
                try:
                    self.wfile.write(b"ok")
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


PAYLOAD = alerts.body(run_id="r1", evaluated_at="2026-12-01T22:00:00Z", system="s1",
                      window={"from": "2026-11-01", "to": "2026-11-30"},
                      changes=[{"metric": "oversight.override_rate", "title": "t", "previous": "pass", "status": "fail",
                                "value": 0.41, "threshold": 0.35, "method": "mixture_e_value", "e_value": 31.0, "refs": []}])


def test_delivered_body_is_the_documented_json():
    with Hook() as hook:
        d = alerts.post_webhook(hook.url, PAYLOAD, sleep=lambda s: None)
    assert d.delivered and d.attempts == 1 and d.error is None
    assert hook.received == [PAYLOAD]
    assert hook.headers[0]["Content-Type"] == "application/json"
    assert set(PAYLOAD) == {"source", "event", "monitor_run", "evaluated_at", "system", "window", "changes"}


def test_retries_server_errors_with_exponential_back_off():
    waits = []
    with Hook(statuses=[503, 500, 502]) as hook:
        d = alerts.post_webhook(hook.url, PAYLOAD, attempts=5, backoff=0.5, sleep=waits.append)
    assert d.delivered and d.attempts == 4
    assert waits == [0.5, 1.0, 2.0]
    assert len(hook.received) == 4


def test_gives_up_after_the_last_attempt_and_says_why():
    waits = []
    with Hook(statuses=[503] * 10) as hook:
        d = alerts.post_webhook(hook.url, PAYLOAD, attempts=3, backoff=1, max_backoff=1.5, sleep=waits.append)
    assert not d.delivered and d.attempts == 3 and d.error == "HTTP 503 Service Unavailable"
    assert waits == [1, 1.5] and len(hook.received) == 3


def test_a_client_error_is_not_retried():
    with Hook(statuses=[400]) as hook:
        d = alerts.post_webhook(hook.url, PAYLOAD, attempts=4, sleep=lambda s: pytest.fail("no retry on 400"))
    assert not d.delivered and d.attempts == 1 and "400" in d.error
    assert len(hook.received) == 1


def test_retry_after_is_honoured_up_to_the_cap():
    waits = []
    with Hook(statuses=[429, 429], retry_after="7") as hook:
        d = alerts.post_webhook(hook.url, PAYLOAD, attempts=3, backoff=0.1, max_backoff=5, sleep=waits.append)
    assert d.delivered and waits == [5, 5]


def test_an_unreachable_or_slow_server_fails_within_its_timeout():
    with Hook() as hook:
        url = hook.url
    started = time.monotonic()
    d = alerts.post_webhook(url, PAYLOAD, attempts=2, sleep=lambda s: None, timeout=0.5)
    assert not d.delivered and d.attempts == 2 and "URLError" in d.error
    with Hook(delay=1.5) as hook:
        d = alerts.post_webhook(hook.url, PAYLOAD, attempts=1, sleep=lambda s: None, timeout=0.3)
    assert not d.delivered and "timed out" in d.error.lower()
    assert time.monotonic() - started < 5


def test_no_change_sends_nothing(tmp_path):
    out = tmp_path / "alerts.jsonl"
    with Hook() as hook:
        chans = alerts.channels_from(webhooks=[hook.url], files=[out])
        assert alerts.deliver(chans, {**PAYLOAD, "changes": []}) == []
    assert hook.received == [] and not out.exists()


def test_file_channel_appends_json_lines_and_refuses_a_fifo(tmp_path):
    out = tmp_path / "alerts.jsonl"
    assert alerts.append_file(str(out), PAYLOAD).delivered
    assert alerts.append_file(str(out), PAYLOAD).delivered
    assert [json.loads(x) for x in out.read_text().splitlines()] == [PAYLOAD, PAYLOAD]
    import os
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    d = alerts.append_file(str(fifo), PAYLOAD)
    assert not d.delivered and "not a regular file" in d.error


def test_syslog_line_is_one_line_even_with_hostile_metric_names():
    change = {**PAYLOAD["changes"][0], "metric": "a\nb\r\nc"}
    assert "\n" not in alerts.line("s\n1", change) and "\r" not in alerts.line("s", change)


@pytest.mark.parametrize("configured,message", [
    ([{"webhook": "ftp://x"}], "http:// or https://"),
    ([{"pager": "x"}], "entry 1"),
    (["webhook"], "entry 1"),
])
def test_bad_channels_are_one_line_errors(configured, message):
    with pytest.raises(HitlgovError, match=message):
        alerts.channels_from(configured=configured)


def test_syslog_channel_sends_one_line_per_change_with_its_priority(monkeypatch):
    import syslog

    sent = []
    monkeypatch.setattr(syslog, "openlog", lambda *a, **k: None)
    monkeypatch.setattr(syslog, "closelog", lambda: None)
    monkeypatch.setattr(syslog, "syslog", lambda priority, text: sent.append((priority, text)))
    warn = {**PAYLOAD["changes"][0], "status": "warn", "previous": None}
    [d] = alerts.deliver(alerts.channels_from(syslog=True), {**PAYLOAD, "changes": [PAYLOAD["changes"][0], warn]})
    assert d.delivered
    assert sent == [(syslog.LOG_ERR, "hitlgov finding pass -> fail: system=s1 metric=oversight.override_rate "
                                     "value=0.41 threshold=0.35 method=mixture_e_value"),
                    (syslog.LOG_WARNING, "hitlgov finding new -> warn: system=s1 metric=oversight.override_rate "
                                         "value=0.41 threshold=0.35 method=mixture_e_value")]
