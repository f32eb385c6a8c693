"""Run the fake Anthropic server: ``python -m testing.fake_anthropic --port 8765 --latency-ms 300 --rpm 600``.

Point the client at it with ``ANTHROPIC_BASE_URL=http://127.0.0.1:8765`` and any ``ANTHROPIC_API_KEY``.
``GET /_fake/log`` returns every request it received; ``POST /_fake/reset`` forgets them.
"""

from __future__ import annotations

import argparse

from testing.fake_anthropic.server import FakeAnthropic, FakeConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testing.fake_anthropic", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rpm", type=int, default=0, help="requests per minute before 429 (0: no limit)")
    parser.add_argument("--rpm-burst", type=int, default=0, help="bucket capacity (default: one second of rate)")
    parser.add_argument("--overload-fraction", type=float, default=0.0, help="share of requests answered 529")
    parser.add_argument("--error-fraction", type=float, default=0.0, help="share of requests answered 500")
    parser.add_argument("--malformed-fraction", type=float, default=0.0, help="share of answers without tags")
    parser.add_argument("--subjective-fraction", type=float, default=0.6)
    parser.add_argument("--batch-processing-s", type=float, default=0.2)
    args = parser.parse_args(argv)
    fake = FakeAnthropic(
        FakeConfig(
            latency_ms=args.latency_ms,
            rpm=args.rpm,
            rpm_burst=args.rpm_burst,
            overload_fraction=args.overload_fraction,
            error_fraction=args.error_fraction,
            malformed_fraction=args.malformed_fraction,
            subjective_fraction=args.subjective_fraction,
            batch_processing_s=args.batch_processing_s,
        )
    )
    url = fake.serve(args.host, args.port)
    print(f"fake Anthropic API listening on {url}", flush=True)
    try:
        assert fake._thread is not None
        fake._thread.join()
    except KeyboardInterrupt:
        fake.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
