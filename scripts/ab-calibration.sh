#!/usr/bin/env bash
# How often does `virtbench ab` cry wolf, and how often does it catch a real slowdown?
# Runs A/A comparisons (the same commit on both sides) and A/B comparisons against a branch with a
# planted slowdown (LINPACK's solves and forksum's tree each spin 10 % longer), interleaved (two A/A, then one A/B) so
# that both meet the same machine. Each is a sequential `virtbench ab` with its defaults (rounds added until every
# row is decided); summary.txt records its exit, rounds, four-verdict counts and what failed its gate. Every A/B
# directory is kept; `virtbench compare` re-judges them:
#   scripts/ab-calibration.sh [aa-count=20] [ab-count=10] [out=virtbench-calibration]
# Environment: CALIBRATION_PROJECTS (default "native docker"), CALIBRATION_FILTERS (bench file filters, e.g.
# "cpu fork" for the planted workloads alone: a shorter form), CALIBRATION_PROFILE (default quick).
# It needs a clean checkout (it commits the planted slowdown on a scratch branch of a scratch clone).
set -euo pipefail
aa_count="${1:-20}"
ab_count="${2:-10}"
out="$(realpath -m "${3:-virtbench-calibration}")"
projects=()
for project in ${CALIBRATION_PROJECTS:-native docker}; do projects+=(--project "$project"); done
for filter in ${CALIBRATION_FILTERS:-}; do projects+=(--filter "$filter"); done
profile="${CALIBRATION_PROFILE:-quick}"
here="$(cd "$(dirname "$0")/.." && pwd)"
# Node 22 from the node@22 dev dependency, as npm scripts have it.
export PATH="$here/node_modules/.bin:$PATH"

mkdir -p "$out"
clone="$(mktemp -d /tmp/virtbench-calibration-XXXXXX)"
child=
# On Ctrl-C or SIGTERM: let the A/B under way stop its run and remove its worktrees, then remove the clone.
trap '[[ -z "$child" ]] || { kill -TERM "$child" 2>/dev/null; wait "$child"; }; exit 130' INT TERM
trap 'rm -rf "$clone"' EXIT
git clone --quiet "$here" "$clone"
ln -s "$here/node_modules" "$clone/node_modules"
cd "$clone"
npm run build --silent # the virtbench command itself comes from dist/
git checkout --quiet -b planted
python3 - <<'PY'
# Each timed region spins 10 % longer: LINPACK's solves (cpu) and forksum's tree (fork, fork-threads).
plants = {
    'src/workloads/cpu/linpack.c': ("    solve(a, lda, n, pivot, b);\n    solving += now_seconds() - start;",
        "    solve(a, lda, n, pivot, b);\n"
        "    double spent = now_seconds() - start; /* planted: every solve takes 10 % longer */\n"
        "    while (now_seconds() - start < spent * 1.10) {\n    }\n"
        "    solving += now_seconds() - start;"),
    'src/workloads/fork/forksum.c': ("  double elapsed = now_seconds() - began;",
        "  double spent = now_seconds() - began; /* planted: the tree takes 10 % longer */\n"
        "  while (now_seconds() - began < spent * 1.10) {\n  }\n"
        "  double elapsed = now_seconds() - began;"),
}
for path, (old, new) in plants.items():
    text = open(path).read()
    assert text.count(old) == 1, f'{path} changed: update the planted slowdown'
    open(path, 'w').write(text.replace(old, new))
PY
git -c user.name=calibration -c user.email=calibration@localhost commit --quiet -am 'planted: LINPACK and forksum 10 % slower'
git checkout --quiet -
base="$(git rev-parse HEAD)"

aa=0
ab=0
while ((aa < aa_count || ab < ab_count)); do
  for kind in aa aa ab; do
    if [[ $kind == aa ]] && ((aa < aa_count)); then
      aa=$((aa + 1))
      dir="$out/aa-$aa"
      head="$base"
    elif [[ $kind == ab ]] && ((ab < ab_count)); then
      ab=$((ab + 1))
      dir="$out/ab-$ab"
      head=planted
    else
      continue
    fi
    start=$SECONDS
    code=0
    # In the background and waited for, so that a signal reaches the trap at once (and ab through it).
    node "$clone/bin/virtbench.js" ab "$base" "$head" "${projects[@]}" --profile "$profile" --out "$dir" >"$dir.log" 2>&1 &
    child=$!
    wait "$child" || code=$?
    child=
    # What failed the gate: the regressed rows (platform/benchmark), or "-".
    # shellcheck disable=SC2016 # JavaScript, not shell, in single quotes
    regressed="$(node -e 'const rows = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      console.log(rows.filter((r) => r.failsGate).map((r) => `${r.platform}/${r.benchmark}`).join(",") || "-")' "$dir/comparison.json" 2>/dev/null || echo "no-comparison")"
    # shellcheck disable=SC2016
    verdicts="$(node -e 'const rows = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const n = (v) => rows.filter((r) => r.verdict === v).length;
      console.log(["regressed", "improved", "equivalent", "undecided"].map((v) => `${v}=${n(v)}`).join(" "))' "$dir/comparison.json" 2>/dev/null || echo "-")"
    rounds="$(grep -oE 'against [^ ]+, [0-9]+ rounds' "$dir.log" | grep -oE '[0-9]+ rounds' | cut -d' ' -f1 || echo '?')"
    echo "$(basename "$dir") exit $code $((SECONDS - start)) s rounds $rounds $verdicts failed-gate: $regressed" | tee -a "$out/summary.txt"
  done
done
# The rates: an A/A fails when its gate fails at all; an A/B catches the slowdown when a planted workload fails its gate.
awk '/^aa-/ { aa++; aa_rounds += $7; if ($2 == "exit" && $3 != 0) alarms++ }
     /^ab-/ { ab++; ab_rounds += $7; if ($0 ~ /\/(cpu|fork|fork-threads)(,|$)/) caught++ }
     END { printf "A/A false alarms: %d of %d (mean %.1f rounds); A/B caught: %d of %d (mean %.1f rounds)\n",
                  alarms, aa, aa ? aa_rounds / aa : 0, caught, ab, ab ? ab_rounds / ab : 0 }' "$out/summary.txt" | tee -a "$out/summary.txt"
