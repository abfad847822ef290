#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the tests of `gradstorm sweep
# --slurm` and for anyone who wants to try it:
#
#   scripts/slurm-local.sh up      # install (as root, with apt-get) and start; idempotent
#   scripts/slurm-local.sh down    # stop the daemons this script started (by pid)
#   scripts/slurm-local.sh status  # exit 0 when the cluster answers and its node is idle or busy
#   scripts/slurm-local.sh env     # prints `export SLURM_CONF=…` for this cluster
#
# Debian's slurm-wlm and munge packages; munged, slurmctld and slurmd run as
# root with everything Slurm writes (state, spool, logs, pid files, the
# slurm.conf) under $GRADSTORM_SLURM_DIR (default ${TMPDIR:-/tmp}/gradstorm-slurm).
# Slurm's commands find the cluster through SLURM_CONF (`eval "$(scripts/slurm-local.sh env)"`);
# when /etc/slurm/slurm.conf does not exist, `up` also links it to this
# cluster's file (and `down` removes that link), so sinfo, sbatch and
# gradstorm find it without SLURM_CONF. A cluster that is already configured
# there is never touched.
set -euo pipefail

STATE="${GRADSTORM_SLURM_DIR:-${TMPDIR:-/tmp}/gradstorm-slurm}"
CONF="$STATE/slurm.conf"
ETC_CONF=/etc/slurm/slurm.conf
NODE="$(hostname -s)"
say() { printf '[slurm-local] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }
pid_in() { [[ -s "$1" ]] && tr -dc '0-9' <"$1" || true; }

install_packages() {
  local missing=()
  command -v munged >/dev/null 2>&1 || [[ -x /usr/sbin/munged ]] || missing+=(munge)
  { command -v slurmctld >/dev/null 2>&1 || [[ -x /usr/sbin/slurmctld ]]; } && command -v sbatch >/dev/null 2>&1 || missing+=(slurm-wlm)
  ((${#missing[@]} == 0)) && return 0
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing ${missing[*]}: install Slurm with 'sudo apt-get install -y slurm-wlm munge' (Debian/Ubuntu), then run '$0 up' as root"
  fi
  say "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; } ||
    die "apt-get install ${missing[*]} failed"
}

# Which daemons this script started: their pids, one file each, under $STATE/ours.
ours() { echo "$STATE/ours/$1.pid"; }

start_munge() {
  local key=/etc/munge/munge.key pid
  pid="$(pid_in /run/munge/munged.pid)"
  if alive "$pid"; then return 0; fi # someone's munged (ours from an earlier up, or the system's): use it
  mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
  if [[ ! -s "$key" ]]; then
    say "creating a munge key in $key"
    dd if=/dev/urandom bs=1 count=1024 of="$key" status=none
  fi
  chown munge:munge /etc/munge "$key" /run/munge /var/lib/munge /var/log/munge
  chmod 700 /etc/munge
  chmod 400 "$key"
  # munged refuses to start over a stale socket or pid file; --force takes them over.
  if id munge >/dev/null 2>&1 && command -v runuser >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged --force
  else
    /usr/sbin/munged --force
  fi
  for _ in $(seq 50); do
    pid="$(pid_in /run/munge/munged.pid)"
    alive "$pid" && break
    sleep 0.1
  done
  alive "$pid" || die "munged did not start (see /var/log/munge/munged.log)"
  echo "$pid" >"$(ours munged)"
}

write_conf() {
  local cpus
  cpus="$(nproc)"
  mkdir -p "$STATE/state" "$STATE/spool" "$STATE/log" "$STATE/ours"
  cat >"$CONF.tmp" <<EOF
# Written by gradstorm's scripts/slurm-local.sh: a one-node test cluster.
ClusterName=gradstorm-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SwitchType=switch/none
SchedulerType=sched/backfill
# Schedule at once when jobs finish (a dependency that became satisfiable included), not every minute.
SchedulerParameters=sched_min_interval=0,batch_sched_delay=0,bf_interval=1
ReturnToService=2
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MinJobAge=300
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.tmp" "$CONF"
  # Let sbatch & co. find the cluster without SLURM_CONF, unless a real one is configured.
  if [[ ! -e "$ETC_CONF" && ! -L "$ETC_CONF" ]] && [[ -w "$(dirname "$ETC_CONF")" ]]; then
    ln -s "$CONF" "$ETC_CONF"
    echo "$ETC_CONF" >"$STATE/ours/etc-link"
  fi
}

node_state() { SLURM_CONF="$CONF" sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -n1 || true; }

wait_idle() {
  local state=""
  for _ in $(seq 150); do
    state="$(node_state)"
    case "$state" in idle* | mixed* | allocated* | completing*) return 0 ;; esac
    sleep 0.2
  done
  say "the node did not come up (sinfo says '${state:-nothing}'); logs: $STATE/log/slurmctld.log, $STATE/log/slurmd.log"
  tail -n 15 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 2>/dev/null || true
  return 1
}

up() {
  if [[ "$(id -u)" != 0 ]]; then
    die "needs root: the daemons run as root (SlurmUser=root), munged's key lives in /etc/munge; run: sudo $0 up (Slurm itself: sudo apt-get install -y slurm-wlm munge)"
  fi
  install_packages
  mkdir -p "$STATE/ours"
  if alive "$(pid_in "$STATE/slurmctld.pid")" && alive "$(pid_in "$STATE/slurmd.pid")" && [[ -n "$(node_state)" ]]; then
    wait_idle
    say "already up: node $NODE ($(node_state)); export SLURM_CONF=$CONF"
    return 0
  fi
  start_munge
  write_conf
  if ! alive "$(pid_in "$STATE/slurmctld.pid")"; then
    # -c: a clean start (no jobs from an earlier cluster of this script), -i: ignore unreadable state.
    /usr/sbin/slurmctld -f "$CONF" -c -i || die "slurmctld did not start; log: $STATE/log/slurmctld.log"
    for _ in $(seq 50); do alive "$(pid_in "$STATE/slurmctld.pid")" && break; sleep 0.1; done
    alive "$(pid_in "$STATE/slurmctld.pid")" || die "slurmctld exited; log: $STATE/log/slurmctld.log"
    pid_in "$STATE/slurmctld.pid" >"$(ours slurmctld)"
  fi
  if ! alive "$(pid_in "$STATE/slurmd.pid")"; then
    /usr/sbin/slurmd -f "$CONF" || die "slurmd did not start; log: $STATE/log/slurmd.log"
    for _ in $(seq 50); do alive "$(pid_in "$STATE/slurmd.pid")" && break; sleep 0.1; done
    alive "$(pid_in "$STATE/slurmd.pid")" || die "slurmd exited; log: $STATE/log/slurmd.log"
    pid_in "$STATE/slurmd.pid" >"$(ours slurmd)"
  fi
  wait_idle || die "cluster did not come up"
  say "up: node $NODE with $(nproc) CPU(s), partition 'local'; export SLURM_CONF=$CONF"
}

# SIGTERM to each daemon this script started (each takes about 2 s to shut down, so all at once), SIGKILL after 10 s.
stop_ours() {
  local name pid pids=()
  for name in "$@"; do
    pid="$(pid_in "$(ours "$name")")"
    rm -f "$(ours "$name")"
    if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; pids+=("$pid"); fi
  done
  for _ in $(seq 100); do
    local running=()
    for pid in "${pids[@]}"; do alive "$pid" && running+=("$pid"); done
    ((${#running[@]} == 0)) && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    alive "$pid" && { say "pid $pid still running after 10 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; }
  done
  return 0
}

down() {
  [[ -d "$STATE/ours" ]] || { say "nothing to stop (no cluster started from $STATE)"; return 0; }
  stop_ours slurmd slurmctld munged
  if [[ -s "$STATE/ours/etc-link" ]]; then
    [[ "$(readlink "$ETC_CONF" 2>/dev/null || true)" == "$CONF" ]] && rm -f "$ETC_CONF"
    rm -f "$STATE/ours/etc-link"
  fi
  say "down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status)
    alive "$(pid_in "$STATE/slurmctld.pid")" && [[ -n "$(node_state)" ]] || { say "not running"; exit 1; }
    say "node $NODE: $(node_state)"
    ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
