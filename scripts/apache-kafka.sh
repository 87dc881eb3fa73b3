#!/usr/bin/env bash
# Apache Kafka 4 (KRaft: one process acting as broker and controller) for the fault tests, assembled from the
# jars on Maven Central, so it needs only Java 17+ and Maven: no tarball download, no Docker.
#
#   scripts/apache-kafka.sh assemble          jars into $KAFKA_HOME/libs (skipped when already assembled)
#   scripts/apache-kafka.sh start DIR PORT    write DIR/server.properties, format DIR/data the first time only,
#                                             run the broker in the background (DIR/kafka.log, DIR/kafka.pid)
#                                             and wait until 127.0.0.1:PORT answers; DIR/data persists, so a
#                                             later start on the same DIR is a restart with the same log
#   scripts/apache-kafka.sh stop DIR          SIGTERM (controlled shutdown), SIGKILL after KAFKA_STOP_TIMEOUT
#   scripts/apache-kafka.sh kill DIR          SIGKILL: a broker crash
#
# Environment (all optional):
#   KAFKA_VERSION           org.apache.kafka:kafka_2.13 version on Maven Central (default 4.1.1, as in compose)
#   KAFKA_HOME              where the jars go (default <repo>/.cache/kafka-$KAFKA_VERSION, jars in libs/)
#   KAFKA_EXTRA_PROPERTIES  lines appended to server.properties (a later line overrides an earlier key)
#   KAFKA_SCRAM_USERS       "name:password ..." -> the client listener is SASL_PLAINTEXT with SCRAM-SHA-256 and
#                           SCRAM-SHA-512, these users' credentials stored at format time; the first user is
#                           the broker's own (inter-broker) identity. Unset: a PLAINTEXT listener.
#   KAFKA_CONTROLLER_PORT   the KRaft controller listener port (default: a free port, kept across restarts)
#   KAFKA_HEAP_OPTS         default -Xmx512m -Xms128m
#   KAFKA_JVM_OPTS          default: G1, C1 JIT only (quick start, little CPU on a small CI machine)
#   KAFKA_LOG_LEVEL         root log level of DIR/kafka.log (default INFO)
#   KAFKA_START_TIMEOUT     seconds to wait for PORT (default 60); KAFKA_STOP_TIMEOUT likewise (default 30)
#   MAVEN_ARGS              extra arguments for mvn (e.g. -Dmaven.repo.local=...)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$ROOT/scripts/kafka-pom.xml"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
KAFKA_HOME="${KAFKA_HOME:-$ROOT/.cache/kafka-$KAFKA_VERSION}"
LIBS="$KAFKA_HOME/libs"
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx512m -Xms128m}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"

die() { echo "apache-kafka: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: Apache Kafka needs Java 17+ and Maven"; }

stamp_value() { echo "$KAFKA_VERSION $(sha1sum <"$POM" | cut -c1-12)"; }
assembled() { [ -f "$KAFKA_HOME/.assembled" ] && [ "$(cat "$KAFKA_HOME/.assembled")" = "$(stamp_value)" ]; }

assemble() {
  assembled && return 0
  need java
  need mvn
  mkdir -p "$KAFKA_HOME"
  exec 9>"$KAFKA_HOME/.lock"
  command -v flock >/dev/null 2>&1 && flock 9  # two test sessions assembling at once: the second waits
  assembled && return 0
  local tmp="$KAFKA_HOME/libs.tmp.$$"
  rm -rf "$tmp"
  local args=(-B -q -ntp -Dstyle.color=never -f "$POM" "$DEPENDENCY_PLUGIN:copy-dependencies" -DincludeScope=runtime
              -DoutputDirectory="$tmp" -Dkafka.version="$KAFKA_VERSION" -Dmdep.overWriteIfNewer=false)
  # shellcheck disable=SC2086  # MAVEN_ARGS is a list of words
  # Offline first when the local repository already has this version (no metadata checks), else online.
  if ! { [ -d "$HOME/.m2/repository/org/apache/kafka/kafka_2.13/$KAFKA_VERSION" ] \
         && mvn -o "${args[@]}" ${MAVEN_ARGS:-} >/dev/null 2>&1; }; then
    rm -rf "$tmp"
    # shellcheck disable=SC2086
    mvn "${args[@]}" ${MAVEN_ARGS:-} || die "mvn could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
  fi
  [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  stamp_value >"$KAFKA_HOME/.assembled"
  echo "apache-kafka: assembled Kafka $KAFKA_VERSION in $LIBS ($(find "$LIBS" -name '*.jar' | wc -l) jars)" >&2
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {  # [PORT]: a port nothing listens on, other than PORT (picked by the caller, not yet listened on)
  local port
  for _ in $(seq 200); do
    port=$((20000 + RANDOM % 12000))  # below the kernel's ephemeral ports (32768-60999), which clients take
    [ "$port" != "${1:-}" ] || continue
    port_open "$port" || { echo "$port"; return 0; }
  done
  die "no free port found"
}

# Alive and not a zombie (an orphaned broker is reparented to whatever reaps, or does not reap, orphans).
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null; }

# The pid in DIR/kafka.pid if that process is alive and is a Kafka broker (not a recycled pid).
broker_pid() {
  local pid
  pid="$(cat "$1/kafka.pid" 2>/dev/null || true)"
  [ -n "$pid" ] && alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' \
    && echo "$pid"
}

# exec: run in a subshell or in the background, so that $! is the JVM's own pid.
java_cmd() {
  local dir="$1"
  shift
  # shellcheck disable=SC2086  # option lists
  exec java $KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS -Dlog4j2.configurationFile="$dir/log4j2.properties" \
    -cp "$LIBS/*" "$@"
}

# The client listener's lines: PLAINTEXT, or SASL_PLAINTEXT with SCRAM when KAFKA_SCRAM_USERS names users.
client_listener() {
  local port="$1"
  if [ -z "${KAFKA_SCRAM_USERS:-}" ]; then
    printf '%s\n' "listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$2" \
      "advertised.listeners=PLAINTEXT://127.0.0.1:$port" \
      "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT" \
      "inter.broker.listener.name=PLAINTEXT"
    return
  fi
  local first="${KAFKA_SCRAM_USERS%% *}" mechanism
  local jaas="org.apache.kafka.common.security.scram.ScramLoginModule required username=\"${first%%:*}\" password=\"${first#*:}\";"
  printf '%s\n' "listeners=CLIENT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$2" \
    "advertised.listeners=CLIENT://127.0.0.1:$port" \
    "listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT" \
    "inter.broker.listener.name=CLIENT" \
    "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512" \
    "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512"
  for mechanism in scram-sha-256 scram-sha-512; do
    printf '%s\n' "listener.name.client.$mechanism.sasl.jaas.config=$jaas"
  done
}

# --add-scram arguments for the storage format: every user, both mechanisms.
scram_format_args() {
  local user mechanism
  for user in ${KAFKA_SCRAM_USERS:-}; do
    for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
      printf '%s\n' "--add-scram" "$mechanism=[name=${user%%:*},password=${user#*:}]"
    done
  done
}

write_config() {
  local dir="$1" port="$2" cport="$3"
  cat >"$dir/server.properties" <<EOF
# Written by scripts/apache-kafka.sh: one KRaft node, broker and controller, for tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
$(client_listener "$port" "$cport")
controller.listener.names=CONTROLLER
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# As docker-compose.yml's broker: a request handed between fewer threads on a machine whose cores it shares.
num.network.threads=1
num.io.threads=2
# Every topic is created explicitly (pipeline topics create, Faust's admin requests for its own).
auto.create.topics.enable=false
${KAFKA_EXTRA_PROPERTIES:-}
EOF
  cat >"$dir/log4j2.properties" <<EOF
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = ${KAFKA_LOG_LEVEL:-INFO}
rootLogger.appenderRef.out.ref = STDOUT
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
}

start() {
  [ $# -eq 2 ] || die "usage: $0 start DIR PORT"
  local dir port cport pid
  mkdir -p "$1"
  dir="$(cd "$1" && pwd)"
  port="$2"
  assemble
  need java
  if pid="$(broker_pid "$dir")"; then die "already running in $dir (pid $pid)"; fi
  port_open "$port" && die "port $port is already in use"
  if [ -f "$dir/controller.port" ]; then
    cport="$(cat "$dir/controller.port")"
  else
    cport="${KAFKA_CONTROLLER_PORT:-$(free_port "$port")}"  # not the client port, which is not listened on yet
    echo "$cport" >"$dir/controller.port"
  fi
  write_config "$dir" "$port" "$cport"
  if [ ! -f "$dir/data/meta.properties" ]; then
    # A random cluster id: 16 random bytes, URL-safe base64 without padding (what kafka-storage random-uuid prints).
    local cluster_id
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    local scram=()
    mapfile -t scram < <(scram_format_args)
    (KAFKA_HEAP_OPTS="-Xmx256m" java_cmd "$dir" kafka.tools.StorageTool format --cluster-id="$cluster_id" \
      -c "$dir/server.properties" "${scram[@]}" >>"$dir/kafka.log" 2>&1) \
      || { tail -20 "$dir/kafka.log" >&2; die "format failed"; }
  fi
  java_cmd "$dir" kafka.Kafka "$dir/server.properties" >>"$dir/kafka.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/kafka.pid"
  local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-60}))
  until port_open "$port"; do
    if ! alive "$pid"; then
      tail -30 "$dir/kafka.log" >&2
      die "broker exited during start-up; log: $dir/kafka.log"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -KILL "$pid" 2>/dev/null || true
      die "broker did not open port $port within ${KAFKA_START_TIMEOUT:-60}s; log: $dir/kafka.log"
    fi
    sleep 0.2
  done
  echo "apache-kafka: Kafka $KAFKA_VERSION on 127.0.0.1:$port (pid $pid, log $dir/kafka.log)" >&2
}

stop() {
  [ $# -eq 1 ] || die "usage: $0 stop|kill DIR"
  local dir="$1" signal="${SIGNAL:-TERM}" pid
  pid="$(broker_pid "$dir")" || { rm -f "$dir/kafka.pid"; return 0; }
  kill "-$signal" "$pid"
  local deadline=$((SECONDS + ${KAFKA_STOP_TIMEOUT:-30}))
  while alive "$pid"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -KILL "$pid" 2>/dev/null || true
      [ "$SECONDS" -ge $((deadline + 10)) ] && die "pid $pid survived SIGKILL"
    fi
    sleep 0.1
  done
  # A killed JVM closes its sockets a moment after it stops running: wait, so a restart finds the ports free.
  local port
  for port in $(grep -o '//127.0.0.1:[0-9]*' "$dir/server.properties" | cut -d: -f2); do
    while port_open "$port" && [ "$SECONDS" -lt $((deadline + 10)) ]; do sleep 0.1; done
  done
  rm -f "$dir/kafka.pid"
}

command="${1:-}"
shift || true
case "$command" in
  assemble) assemble ;;
  start) start "$@" ;;
  stop) stop "$@" ;;
  kill) SIGNAL=KILL stop "$@" ;;
  *) die "usage: $0 assemble | start DIR PORT | stop DIR | kill DIR" ;;
esac
