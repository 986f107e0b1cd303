"""Runs the assistant scaled out on one machine, the way production runs it on several.

PostgreSQL (the shared tracker store), Redis (the lock store), one action server, N `rasa run`
instances with endpoints.production.yml, and nginx balancing round-robin over them. Everything
listens on 127.0.0.1 on free ports and keeps its state in a temporary directory that is removed
on exit. The database, Redis and nginx come from Debian:
`apt-get install redis-server postgresql nginx`.

Ctrl-C (or SIGTERM) stops everything, in the reverse order it started. The tests use the
`cluster()` context manager (tests/test_scale_out.py).

Usage: python -m tools.cluster [--instances N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.channels.credentials import credentials_from_env
from bot.settings import MODEL, ROOT, Settings
from tools.serve import action_server_command, free_port, rasa_command, rasa_environment, wait_until_ready

PRODUCTION_ENDPOINTS = ROOT / "endpoints.production.yml"
HOST = "127.0.0.1"
APT_INSTALL = "apt-get install redis-server postgresql nginx"
# How long a ticket in the Redis lock lives (Rasa's TICKET_LOCK_LIFETIME, default 60 s). A killed
# instance's ticket blocks its conversation until it expires, and our channels give up on a turn
# after 12 s (bot/channels/guard.py): so well under that, yet longer than the slowest turn.
LOCK_LIFETIME_S = 5
READY_TIMEOUT_S = 180
STOP_GRACE_S = 15
DB_NAME = "rasa"
DB_USER = "rasa"


class ClusterError(RuntimeError):
    """The cluster cannot start; the message says why (a missing package, a failed child)."""


@dataclass(frozen=True)
class Binaries:
    """The Debian programs the cluster runs besides Python."""

    initdb: Path
    postgres: Path
    redis_server: Path
    nginx: Path


def _find_program(name: str, *preferred_dirs: Path) -> Path | None:
    """Looks in `preferred_dirs`, then PATH, then /usr/sbin (nginx's home, off a user's PATH)."""
    search = [*map(str, preferred_dirs), os.environ.get("PATH", ""), "/usr/sbin"]
    found = shutil.which(name, path=os.pathsep.join(search))
    return Path(found) if found else None


def _postgres_bin_dir() -> Path | None:
    """Debian keeps PostgreSQL's server programs in /usr/lib/postgresql/<version>/bin, off PATH."""
    candidates = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    candidates.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return candidates[-1] if candidates else None


def find_binaries() -> Binaries:
    """The programs, or a ClusterError naming the Debian packages that are missing."""
    pg_bin = _postgres_bin_dir()
    found = {
        "initdb": _find_program("initdb", *([pg_bin] if pg_bin else [])),
        "postgres": _find_program("postgres", *([pg_bin] if pg_bin else [])),
        "redis_server": _find_program("redis-server"),
        "nginx": _find_program("nginx"),
    }
    package = {"initdb": "postgresql", "postgres": "postgresql", "redis_server": "redis-server", "nginx": "nginx"}
    missing = sorted({package[name] for name, path in found.items() if path is None})
    if missing:
        raise ClusterError(f"missing Debian package(s): {', '.join(missing)}. Install them: {APT_INSTALL}")
    return Binaries(**found)  # type: ignore[arg-type]


@dataclass
class Child:
    """A process the cluster started, with its log file and the signal that stops it cleanly."""

    name: str
    process: subprocess.Popen
    log: Path
    stop_signal: int = signal.SIGTERM

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass(frozen=True)
class Database:
    """Where the tracker store is: the DB_* variables of endpoints.production.yml."""

    host: str
    port: int
    name: str
    user: str
    password: str

    def store_settings(self) -> dict[str, Any]:
        """The settings endpoints.production.yml gives the tracker store, as Rasa passes them."""
        return {
            "dialect": "postgresql",
            "host": self.host,
            "port": self.port,
            "db": self.name,
            "username": self.user,
            "password": self.password,
        }


@dataclass(frozen=True)
class Redis:
    """Where the lock store is: the REDIS_* variables of endpoints.production.yml."""

    host: str
    port: int
    password: str


@dataclass
class Cluster:
    """A running cluster: its URLs, stores and processes (in start order)."""

    state_dir: Path
    database: Database
    redis: Redis
    actions_url: str = ""
    instance_urls: list[str] = field(default_factory=list)
    nginx_url: str = ""
    children: list[Child] = field(default_factory=list)

    @property
    def instances(self) -> list[Child]:
        return [c for c in self.children if c.name.startswith("rasa-")]

    @property
    def nginx_access_log(self) -> Path:
        return self.state_dir / "nginx" / "access.log"

    @property
    def nginx_error_log(self) -> Path:
        """Where nginx notes each request it had to take away from a failed instance."""
        return self.state_dir / "nginx" / "error.log"

    def kill_instance(self, index: int) -> None:
        """SIGKILL one `rasa run`, as a crash would: no clean-up, its Redis tickets stay behind."""
        process = self.instances[index].process
        process.kill()
        process.wait()

    def environment(self) -> dict[str, str]:
        """The variables endpoints.production.yml reads, for this cluster."""
        return {
            "ACTION_ENDPOINT_URL": f"{self.actions_url}/webhook",
            "DB_HOST": self.database.host,
            "DB_PORT": str(self.database.port),
            "DB_NAME": self.database.name,
            "DB_USER": self.database.user,
            "DB_PASSWORD": self.database.password,
            "REDIS_HOST": self.redis.host,
            "REDIS_PORT": str(self.redis.port),
            "REDIS_PASSWORD": self.redis.password,
        }


def _start(
    cluster: Cluster,
    name: str,
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
    stop_signal: int = signal.SIGTERM,
    run_as: dict[str, Any] | None = None,
) -> Child:
    """Starts a child with its output in <state>/logs/<name>.log, in its own session so a Ctrl-C
    in the terminal reaches only us and we can stop the children in order."""
    log = cluster.state_dir / "logs" / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **(run_as or {}),
        )
    child = Child(name, process, log, stop_signal)
    cluster.children.append(child)
    return child


def _wait_for(child: Child, check: Any, what: str, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Polls `check()` until it returns true; fails with the child's log if it dies or times out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise ClusterError(f"{child.name} exited with code {child.process.returncode}:\n{child.log_tail()}")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.2)
    raise ClusterError(f"{child.name}: {what} not ready after {timeout_s:.0f} s:\n{child.log_tail()}")


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


def _as_postgres() -> dict[str, Any]:
    """initdb and postgres refuse to run as root: as root, run them as Debian's `postgres` user."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


def start_postgres(cluster: Cluster, binaries: Binaries) -> None:
    """A throw-away PostgreSQL server with the database and user the tracker store logs in as.

    Local (Unix-socket) connections are trusted, but the socket lives in a directory only the
    server's user can enter; TCP on 127.0.0.1 needs the generated password."""
    pg_dir = cluster.state_dir / "postgres"
    pg_dir.mkdir(mode=0o700)
    run_as = _as_postgres()
    if run_as:
        shutil.chown(pg_dir, "postgres", "postgres")
    data = pg_dir / "data"
    initdb = [str(binaries.initdb), "-D", str(data), "-U", "postgres", "--no-locale", "-E", "UTF8", "--no-sync"]
    initdb += ["--auth-local=trust", "--auth-host=scram-sha-256"]
    result = subprocess.run(initdb, cwd=pg_dir, capture_output=True, text=True, check=False, **run_as)
    if result.returncode != 0:
        raise ClusterError(f"initdb failed:\n{result.stdout}{result.stderr}")
    port = cluster.database.port
    command = [str(binaries.postgres), "-D", str(data), "-p", str(port), "-c", f"listen_addresses={HOST}"]
    command += ["-c", f"unix_socket_directories={pg_dir}"]
    # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client to disconnect.
    child = _start(cluster, "postgres", command, cwd=pg_dir, stop_signal=signal.SIGINT, run_as=run_as)
    _wait_for(child, lambda: _superuser_connection(pg_dir, port).close() is None, "PostgreSQL", timeout_s=60)
    _create_database(pg_dir, cluster.database)


def _superuser_connection(socket_dir: Path, port: int) -> Any:
    import psycopg2  # Rasa's PostgreSQL driver; imported here so `--help` stays fast

    return psycopg2.connect(host=str(socket_dir), port=port, user="postgres", dbname="postgres")


def _create_database(socket_dir: Path, database: Database) -> None:
    """Creates the tracker store's user and database, as the superuser over the Unix socket."""
    connection = _superuser_connection(socket_dir, database.port)
    try:
        connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE ROLE "{database.user}" LOGIN PASSWORD %s', (database.password,))
            cursor.execute(f'CREATE DATABASE "{database.name}" OWNER "{database.user}"')
    finally:
        connection.close()


def start_redis(cluster: Cluster, binaries: Binaries) -> None:
    """Redis for the lock store: loopback only, a password, no persistence (locks are short-lived)."""
    redis_dir = cluster.state_dir / "redis"
    redis_dir.mkdir(mode=0o700)
    config = redis_dir / "redis.conf"
    settings = {
        "bind": HOST,
        "port": cluster.redis.port,
        "protected-mode": "yes",
        "requirepass": cluster.redis.password,
        "save": '""',
        "appendonly": "no",
        "daemonize": "no",
        "dir": str(redis_dir),
    }
    config.write_text("".join(f"{key} {value}\n" for key, value in settings.items()), encoding="utf-8")
    config.chmod(0o600)  # holds the password: not on the command line, where `ps` would show it
    child = _start(cluster, "redis", [str(binaries.redis_server), str(config)], cwd=redis_dir)
    _wait_for(child, lambda: _redis_answers(cluster.redis), "Redis", timeout_s=30)


def _redis_answers(redis: Redis) -> bool:
    import redis as redis_client

    return bool(redis_client.Redis(host=redis.host, port=redis.port, password=redis.password).ping())


def start_action_server(cluster: Cluster) -> Child:
    """One action server for every instance: the actions keep no state between calls."""
    port = free_port()
    cluster.actions_url = f"http://{HOST}:{port}"
    env = {**os.environ, "SANIC_HOST": HOST}  # rasa_sdk has no --interface option; it reads this
    return _start(cluster, "actions", action_server_command(port), env=env)


def _credentials_file(cluster: Cluster, port: int, env: dict[str, str]) -> Path:
    """The channels tools/serve.py would turn on (REST, web chat, and any with secrets set)."""
    path = cluster.state_dir / f"credentials-{port}.yml"
    path.write_text(yaml.safe_dump(credentials_from_env(env, port)), encoding="utf-8")
    path.chmod(0o600)
    return path


def start_instance(
    cluster: Cluster,
    index: int,
    nginx_port: int,
    lock_lifetime_s: int,
    endpoints: Path,
    extra_env: dict[str, str] | None = None,
) -> Child:
    """One `rasa run` with endpoints.production.yml, configured only through its environment
    (ours, plus `extra_env`: a channel's secrets, say)."""
    port = free_port()
    env = {
        # One Sanic worker per instance unless SANIC_WORKERS says otherwise: the instances
        # already spread over the cores of this one machine (docs/deployment.md).
        "SANIC_WORKERS": "1",
        **os.environ,
        **(extra_env or {}),
        **cluster.environment(),
        "RASA_TELEMETRY_ENABLED": "false",
        "TICKET_LOCK_LIFETIME": str(lock_lifetime_s),
    }
    env, _ = rasa_environment(Settings.from_env(env), env, temp_parent=cluster.state_dir)
    # The web chat may also be opened through nginx.
    origins = [env.get("WEBCHAT_ALLOWED_ORIGINS", ""), f"http://{HOST}:{nginx_port}", f"http://localhost:{nginx_port}"]
    env["WEBCHAT_ALLOWED_ORIGINS"] = ",".join(o for o in origins if o)
    api_token = env.get("RASA_API_TOKEN") or None
    command = rasa_command(port, endpoints, _credentials_file(cluster, port, env), api_token)
    cluster.instance_urls.append(f"http://{HOST}:{port}")
    return _start(cluster, f"rasa-{index}", [*command, "--interface", HOST], env=env)


def nginx_config(state_dir: Path, port: int, upstreams: list[str]) -> str:
    """nginx in the foreground with every path under the state directory (no root-owned dirs).

    One worker, so round-robin is exact. A request that fails on one instance (refused, reset,
    502/503, timeout) is retried on the next, POSTs included (`non_idempotent`): a chat turn that
    never reached a dead instance must not be lost. The web chat's socket.io goes to a sticky
    upstream, since its long-polling fallback needs every request of a session on one instance.
    /metrics is not served through nginx: Prometheus scrapes each instance on its own address
    (docs/deployment.md), and a sum of one random instance's counters would mean nothing."""
    servers = "".join(f"    server {u} max_fails=1 fail_timeout=5s;\n" for u in upstreams)
    proxy_headers = (
        "      proxy_set_header Host $host;\n"
        "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "      add_header X-Upstream $upstream_addr always;\n"
    )
    temp = "".join(f"  {kind}_temp_path {state_dir}/nginx/{kind};\n" for kind in ("client_body", "proxy"))
    temp += "".join(f"  {kind}_temp_path {state_dir}/nginx/{kind};\n" for kind in ("fastcgi", "uwsgi", "scgi"))
    return f"""daemon off;
worker_processes 1;
pid {state_dir}/nginx/nginx.pid;
error_log {state_dir}/nginx/error.log warn;
events {{ worker_connections 1024; }}
http {{
  log_format upstream '$remote_addr [$time_local] "$request" $status upstream=$upstream_addr';
  access_log {state_dir}/nginx/access.log upstream;
{temp}  upstream rasa {{
{servers}  }}
  upstream rasa_sticky {{
    hash $remote_addr consistent;
{servers}  }}
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  server {{
    listen {HOST}:{port};
    location / {{
      proxy_pass http://rasa;
      proxy_next_upstream error timeout http_502 http_503 non_idempotent;
      proxy_connect_timeout 5s;
      proxy_read_timeout 60s;
{proxy_headers}    }}
    location = /metrics {{
      return 404;
    }}
    location /socket.io/ {{
      proxy_pass http://rasa_sticky;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 1h;
{proxy_headers}    }}
  }}
}}
"""


def start_nginx(cluster: Cluster, binaries: Binaries, port: int) -> Child:
    nginx_dir = cluster.state_dir / "nginx"
    nginx_dir.mkdir()
    upstreams = [url.removeprefix("http://") for url in cluster.instance_urls]
    config = nginx_dir / "nginx.conf"
    config.write_text(nginx_config(cluster.state_dir, port, upstreams), encoding="utf-8")
    # -e: the error log before the config is read (Debian's default is stderr, but be explicit).
    command = [str(binaries.nginx), "-p", str(nginx_dir), "-c", str(config), "-e", str(nginx_dir / "error.log")]
    cluster.nginx_url = f"http://{HOST}:{port}"
    return _start(cluster, "nginx", command, cwd=nginx_dir, stop_signal=signal.SIGQUIT)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """A second Ctrl-C or SIGTERM must not interrupt the clean-up and leave children behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stop_children(children: list[Child], grace_s: float = STOP_GRACE_S) -> None:
    """Stops the children last-started first, so nothing loses a dependency while running."""
    with _signals_ignored():
        _stop_in_reverse(children, grace_s)


def _stop_in_reverse(children: list[Child], grace_s: float) -> None:
    for child in reversed(children):
        if child.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(child.stop_signal)
            try:
                child.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()


def _state_dir() -> Path:
    # Traversable but not listable by others: the `postgres` user must reach its own sub-directory.
    path = Path(tempfile.mkdtemp(prefix="bme-cluster-"))
    path.chmod(0o711)
    (path / "logs").mkdir()
    return path


def _new_cluster() -> Cluster:
    """A cluster's state before anything starts: a fresh state directory, and free ports and new
    passwords for PostgreSQL and Redis."""
    return Cluster(
        _state_dir(),
        Database(HOST, free_port(), DB_NAME, DB_USER, secrets.token_urlsafe(18)),
        Redis(HOST, free_port(), secrets.token_urlsafe(18)),
    )


@contextlib.contextmanager
def cluster(
    instances: int = 2,
    lock_lifetime_s: int = LOCK_LIFETIME_S,
    endpoints: Path = PRODUCTION_ENDPOINTS,
    env: dict[str, str] | None = None,
) -> Iterator[Cluster]:
    """Starts the whole cluster and waits until nginx answers through every instance; stops it and
    removes its state when the block ends (also on errors and Ctrl-C). `endpoints` is for trying
    another endpoints file that reads the same variables; `env` adds to the instances'
    environment (Slack's secrets, say)."""
    if not MODEL.exists():
        raise ClusterError(f"No trained model at {MODEL}: run `make train` first.")
    binaries = find_binaries()
    running = _new_cluster()
    try:
        actions = start_action_server(running)  # needs nothing else: starts while the stores start
        start_postgres(running, binaries)
        start_redis(running, binaries)
        nginx_port = free_port()
        for index in range(instances):
            start_instance(running, index, nginx_port, lock_lifetime_s, endpoints, env)
        _wait_for(actions, lambda: _http_ok(f"{running.actions_url}/health"), "the action server")
        for child, url in zip(running.instances, running.instance_urls, strict=True):
            # Rasa listens only once its model is loaded, so 200 on / means ready.
            if not wait_until_ready(f"{url}/", child.process):
                raise ClusterError(f"{child.name} did not become ready:\n{child.log_tail()}")
        nginx = start_nginx(running, binaries, nginx_port)
        _wait_for(nginx, lambda: _http_ok(f"{running.nginx_url}/"), "nginx", timeout_s=30)
        yield running
    finally:
        stop_children(running.children)
        shutil.rmtree(running.state_dir, ignore_errors=True)


@contextlib.contextmanager
def stores() -> Iterator[Cluster]:
    """PostgreSQL and Redis alone, as the cluster runs them: for the stores' tests and
    tools/purge_timing.py. Stopped, and their data removed, when the block ends."""
    binaries = find_binaries()
    running = _new_cluster()
    try:
        start_postgres(running, binaries)
        start_redis(running, binaries)
        yield running
    finally:
        stop_children(running.children)
        shutil.rmtree(running.state_dir, ignore_errors=True)


def _watch(running: Cluster) -> int:
    """Runs until a shared piece (store, action server, nginx) or every instance dies. One dead
    instance only gets a warning: nginx sends its traffic to the others."""
    reported: set[str] = set()
    while True:
        for child in running.children:
            if child.process.poll() is None or child.name in reported:
                continue
            reported.add(child.name)
            print(f"{child.name} exited with code {child.process.returncode}:\n{child.log_tail(10)}", file=sys.stderr)
            if not child.name.startswith("rasa-"):
                return 1
        if all(c.process.poll() is not None for c in running.instances):
            print("Every rasa instance has stopped.", file=sys.stderr)
            return 1
        time.sleep(0.5)


def _on_sigterm(signum: int, _frame: object) -> None:
    # SystemExit unwinds through cluster(), which stops the children and removes the state.
    sys.exit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=2, help="how many `rasa run` instances (default 2)")
    parser.add_argument(
        "--lock-lifetime",
        type=int,
        default=LOCK_LIFETIME_S,
        help=f"TICKET_LOCK_LIFETIME in seconds (default {LOCK_LIFETIME_S})",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    signal.signal(signal.SIGTERM, _on_sigterm)
    # Started in the background by a shell, we inherit SIGINT as ignored; Ctrl-C must still work.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print(f"Starting PostgreSQL, Redis, the action server, {args.instances} rasa instances and nginx ...", flush=True)
    try:
        with cluster(args.instances, args.lock_lifetime) as running:
            print(f"\nnginx (load balancer): {running.nginx_url}", flush=True)
            for child, url in zip(running.instances, running.instance_urls, strict=True):
                print(f"{child.name}: {url}")
            print(f"action server: {running.actions_url}\nlogs: {running.state_dir / 'logs'}")
            print(
                f"\ncurl -s {running.nginx_url}/webhooks/rest/webhook "
                """-d '{"sender": "me", "message": "best shoes for knee BME?"}'\nCtrl-C stops everything.""",
                flush=True,
            )
            return _watch(running)
    except ClusterError as error:
        print(f"Cannot run the cluster: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
