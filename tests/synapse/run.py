"""Runs Synapse for masctl's integration tests (tests/it/synapse/), tied to the test process.

Usage: <venv>/bin/python run.py CONFIG DATA_DIR

The test harness keeps our stdin open and never writes to it. When the test process ends, in
whatever way (even SIGKILL), stdin reaches end-of-file and this process exits at once, after
removing DATA_DIR: no Synapse outlives the tests that started it, and no data is left behind.

The signing key is generated here, in-process, if missing: Synapse's own `--generate-keys`
would cost a second interpreter start (seconds on a busy CI machine).
"""

import os
import shutil
import sys
import threading


def watch_parent(data_dir: str) -> None:
    try:
        sys.stdin.buffer.read()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        os._exit(0)


def ensure_signing_key(path: str) -> None:
    if os.path.exists(path):
        return
    from signedjson.key import generate_signing_key, write_signing_keys

    with open(path, "w") as key_file:
        write_signing_keys(key_file, [generate_signing_key("masctl_test")])


def main() -> None:
    config, data_dir = sys.argv[1], sys.argv[2]
    threading.Thread(target=watch_parent, args=(data_dir,), daemon=True).start()
    ensure_signing_key(os.path.join(data_dir, "signing.key"))
    from synapse.app import homeserver

    sys.argv = ["synapse", "--config-path", config]
    homeserver.main()


if __name__ == "__main__":
    main()
