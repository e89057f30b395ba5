"""The command line a newcomer and deployment scripts use: serve, create-admin, --demo."""

import contextlib
import os
import queue
import subprocess
import sys
import threading
import time

import httpx

from tests.support.pages import text_of
from tests.support.servers import free_port


def run_cli(args, cwd, env=None, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "web", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    )


def start_server(args, cwd, env=None):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "web", "serve", "--port", str(port), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(url + "/login", timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    stop(process)
    raise AssertionError("the server did not start")


def stop(process):
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
    process.stdout.close()


def output_until(process, marker, timeout=30):
    """The server's output up to the line with `marker`, read within `timeout` seconds."""
    lines = queue.Queue()

    def read():
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    output = ""
    deadline = time.monotonic() + timeout
    while marker not in output:
        try:
            output += lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no {marker!r} within {timeout} s:\n{output}") from None
    return output


def test_create_admin_creates_the_project_and_an_admin_who_can_sign_in(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/crm.sqlite3", "SECRET_KEY": "s"}
    command = ["create-admin", "--project", "Ромашка", "--email", "boss@romashka.ru"]
    done = run_cli([*command, "--password", "secret123"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    again = run_cli([*command, "--password", "secret123"], tmp_path, env)
    assert again.returncode == 2 and "email" in again.stderr
    process, url = start_server([], tmp_path, env)
    try:
        with httpx.Client(base_url=url, follow_redirects=True) as client:
            client.get("/login")
            signed_in = client.post(
                "/login",
                data={
                    "email": "boss@romashka.ru",
                    "password": "secret123",
                    "csrftoken": client.cookies["csrftoken"],
                },
            )
            assert signed_in.url.path == "/clients"
    finally:
        stop(process)


def setup_code_from(output):
    """The setup code as a person reads it on the console."""
    return output.split("Код установки:")[1].split()[0]


def test_serve_on_a_fresh_machine_keeps_its_data_and_secret_under_data(tmp_path):
    env = {k: "" for k in ("DATABASE_URL", "SECRET_KEY", "PUBLIC_URL")}
    process, url = start_server([], tmp_path, env)
    try:
        output = output_until(process, "/setup")
        code = setup_code_from(output)
        assert f"{url}/setup" in output
        with httpx.Client(base_url=url, follow_redirects=True) as client:
            assert client.get("/").url.path == "/setup"
            form = {
                "project": "Ромашка",
                "name": "Анна",
                "email": "anna@romashka.ru",
                "password": "secret123",
                "password_confirm": "secret123",
                "csrftoken": client.cookies["csrftoken"],
            }
            wrong = client.post("/setup", data={**form, "setup_code": "AAAA-BBBB-CCCC"})
            assert wrong.status_code == 422 and "Неверный код установки" in text_of(wrong)
            done = client.post("/setup", data={**form, "setup_code": code.lower()})
            assert done.url.path == "/settings"
    finally:
        stop(process)
    assert (tmp_path / "data" / "crm.sqlite3").exists()
    secret = tmp_path / "data" / "secret_key"
    assert oct(secret.stat().st_mode & 0o777) == "0o600" and len(secret.read_text()) >= 40


def test_demo_fills_an_empty_database_with_a_living_crm(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/crm.sqlite3", "SECRET_KEY": "s"}
    process, url = start_server(["--demo"], tmp_path, env)
    try:
        with httpx.Client(base_url=url, follow_redirects=True) as client:
            client.get("/login")
            output = output_until(process, "пароль:")
            password = output.split("пароль:")[1].split()[0]
            response = client.post(
                "/login",
                data={
                    "email": "admin@demo.example",
                    "password": password,
                    "csrftoken": client.cookies["csrftoken"],
                },
            )
            assert response.url.path == "/clients"
            assert len(text_of(response)) > 500 and "Дальше" not in text_of(response)
            assert client.get("/employees").text.count("<tr") == 5
    finally:
        stop(process)


def test_serve_with_several_worker_processes(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/crm.sqlite3", "SECRET_KEY": "s"}
    process, url = start_server(["--workers", "2"], tmp_path, env)
    try:
        answers = {httpx.get(url + "/", follow_redirects=True).url.path for _ in range(6)}
        assert answers == {"/setup"}
        output = output_until(process, "/setup")
        assert output.count("Код установки:") == 1  # one code, printed once for all workers
    finally:
        stop(process)


def test_demo_calls_played_while_the_crm_is_stopped_appear_when_it_starts_again(tmp_path):
    """The newcomer's story with `--demo`: the demo prints how to run its simulator on its own;
    stopped, the CRM misses a call played on it; started again, it keeps the PBX's token,
    leaves the port to that simulator and restores the call from its history."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/crm.sqlite3", "SECRET_KEY": "s"}
    pbx_port = free_port()
    pbx_url = f"http://127.0.0.1:{pbx_port}"
    demo = ["--demo", "--pbx-port", str(pbx_port)]
    process, url = start_server(demo, tmp_path, env)
    try:
        output = output_until(process, "simulate-pbx")
    finally:
        stop(process)
    password = output.split("пароль:")[1].split()[0]
    command = next(line for line in output.splitlines() if "simulate-pbx" in line).split()
    simulator = subprocess.Popen(
        [*command, "--step-delay", "0.05"],
        cwd=tmp_path,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    process = None
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                httpx.get(pbx_url + "/", timeout=1)
                break
            time.sleep(0.1)
        played = {"scenario": "answered", "phone": "79161110099", "user": "ivanov"}
        httpx.post(pbx_url + "/simulator/scenario", data=played)
        for _ in range(100):  # its webhooks, all refused: the CRM is down
            if 'id="history-size">1<' in httpx.get(pbx_url + "/").text:
                break
            time.sleep(0.1)
        process, url = start_server(demo, tmp_path, {**env})
        assert "уже работает" in output_until(process, "уже работает")
        with httpx.Client(base_url=url, follow_redirects=True) as client:
            client.get("/login")
            signed_in = {
                "email": "admin@demo.example",
                "password": password,
                "csrftoken": client.cookies["csrftoken"],
            }
            client.post("/login", data=signed_in)
            for _ in range(100):
                journal = text_of(client.get("/webhooks"))
                if "из истории АТС" in journal:
                    break
                time.sleep(0.1)
            assert journal.count("из истории АТС") == 1
            calls = text_of(client.get("/calls", params={"q": "79161110099"}))
            assert "+7 916 111-00-99" in calls
        simulator.terminate()  # while the CRM still holds connections to it: TIME_WAIT
        simulator.wait(10)
        stop(process)
        # That simulator gone (its port in TIME_WAIT), the demo runs its own again.
        process, url = start_server(demo, tmp_path, {**env})
        assert "Симулятор АТС МегаФон:" in output_until(process, "Симулятор АТС")
        assert httpx.get(pbx_url + "/").status_code == 200
    finally:
        if process is not None:
            stop(process)
        simulator.terminate()
        simulator.wait(10)
