"""The Kafka broker's jars, fetched once off Maven Central with Maven, and the Java runtime to run them."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable, Iterator

# Newest on Maven Central; 4.1.2, 4.2.2, 4.3.1 and 4.4.0 all pass an aiokafka 0.14 round trip on Java 17.
KAFKA_VERSION = "4.4.0"
_LOG4J_VERSION = "2.25.3"
# kafka_2.13 pulls slf4j-api 1.7, which finds no 2.x provider and falls back to NOP logging.
_SLF4J_VERSION = "2.0.17"
_DEPENDENCY_PLUGIN_VERSION = "3.8.1"
MIN_JAVA = 17
# Maven colours a few lines even in batch mode.
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.accounts-service</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>{log4j}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>{slf4j}</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId>
        <version>{plugin}</version>
      </plugin>
    </plugins>
  </build>
</project>
"""


def find_java() -> str | None:
    """Return the java executable: $JAVA_HOME's if set, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = pathlib.Path(java_home) / "bin" / "java"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("java")


def java_available() -> bool:
    """Tell whether a Java runtime new enough for the Kafka broker is installed."""
    java = find_java()
    if java is None:
        return False
    try:
        done = subprocess.run(  # noqa: S603  (fixed arguments)
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    match = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if done.returncode != 0 or match is None:
        return False
    major = int(match.group(1))
    # Java 8 and older report "1.<major>".
    if major == 1 and match.group(2):
        major = int(match.group(2))
    return major >= MIN_JAVA


def _default_cache_dir() -> pathlib.Path:
    """Return $XDG_CACHE_HOME/accounts-service, or ~/.cache/accounts-service."""
    base = os.environ.get("XDG_CACHE_HOME") or str(pathlib.Path.home() / ".cache")
    return pathlib.Path(base) / "accounts-service"


def ensure_jars(
    cache_dir: pathlib.Path | None = None, progress: Callable[[str], None] = print
) -> pathlib.Path:
    """Return the directory of the broker's jars, fetching them with Maven on first use.

    The jars live in <cache_dir>/kafka-<KAFKA_VERSION>/libs; cache_dir defaults to
    $XDG_CACHE_HOME/accounts-service (or ~/.cache/accounts-service).
    """
    version_dir = (cache_dir or _default_cache_dir()).expanduser().resolve() / f"kafka-{KAFKA_VERSION}"
    libs = version_dir / "libs"
    if _libs_complete(libs):
        return libs
    version_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".kafka-{KAFKA_VERSION}-", dir=version_dir.parent))
    staging.chmod(0o755)
    try:
        progress(f"fetching Kafka {KAFKA_VERSION} jars with Maven (first use only)…")
        _fetch_with_maven(staging, progress)
        if not _libs_complete(staging / "libs"):
            raise RuntimeError(f"Maven finished but {staging / 'libs'} lacks the Kafka {KAFKA_VERSION} jar")
        count = len(list((staging / "libs").glob("*.jar")))
        _publish(staging, version_dir)
        progress(f"fetched Kafka {KAFKA_VERSION}: {count} jars in {libs}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return libs


def _libs_complete(libs: pathlib.Path) -> bool:
    """Tell whether libs holds a finished fetch of this Kafka version."""
    return (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").is_file()


def _publish(staging: pathlib.Path, version_dir: pathlib.Path) -> None:
    """Move a finished fetch into place atomically, tolerating a concurrent fetch that won."""
    try:
        staging.rename(version_dir)
    except OSError:
        if not _libs_complete(version_dir / "libs"):
            shutil.rmtree(version_dir, ignore_errors=True)
            staging.rename(version_dir)


def _fetch_with_maven(workdir: pathlib.Path, progress: Callable[[str], None]) -> None:
    """Run Maven to copy the broker's runtime dependencies into workdir/libs."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Maven (mvn) is needed to fetch the Kafka jars but is not on PATH")
    pom = workdir / "pom.xml"
    pom.write_text(
        _POM.format(
            kafka=KAFKA_VERSION,
            log4j=_LOG4J_VERSION,
            slf4j=_SLF4J_VERSION,
            plugin=_DEPENDENCY_PLUGIN_VERSION,
        )
    )
    command = [
        mvn,
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={workdir / 'libs'}",
        "-DincludeScope=runtime",
    ]
    tail: deque[str] = deque(maxlen=40)
    with subprocess.Popen(  # noqa: S603  (arguments built here)
        command,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as maven:
        assert maven.stdout is not None
        _report_downloads(maven.stdout, tail, progress)
        returncode = maven.wait()
    if returncode != 0:
        output = "\n".join(tail)
        raise RuntimeError(f"Maven could not fetch Kafka {KAFKA_VERSION} (exit {returncode}):\n{output}")


def _report_downloads(lines: Iterator[str], tail: deque[str], progress: Callable[[str], None]) -> None:
    """Follow Maven's output, reporting every few downloaded artifacts."""
    downloaded = 0
    for line in lines:
        tail.append(_ANSI_ESCAPE.sub("", line).rstrip())
        if "Downloaded from" in line and ".jar" in line:
            downloaded += 1
            if downloaded % 10 == 0:
                progress(f"fetching Kafka jars: {downloaded} artifacts…")
