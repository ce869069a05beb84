#!/usr/bin/env bash
# Issue 18's runs, resumable across sittings and machines.
#   benchmarks/run_search18.sh tune|test|seeds|scan|breadth|independent|fastseeds|fastmore|prelude|confseeds|mctsconf|stepfloor|save [--max-minutes M]
# tune: mcts@4 on a 20-problem slice of gsm8k train (offset 7000, clear of the evolve
#       pool at the start of train), one run per setting below (the 0.5B; the 1.5B
#       where a row says so) and sc@4 on the slice as the reference;
# test: gsm8k test[:50], both models, the same seed: greedy, sc@4, mcts@4 with the
#       old settings and with the current defaults, adaptive sc (a decided vote; the
#       first two agree) and adaptive mcts;
# seeds: sc@4, mcts@4 and confident sc on the default model, test[:50], seed 1.
# scan: sc@4 on the default model, gsm8k train[7020:7100] (the 80 problems after the
#       slice), whose stored samples, with the slice's, choose the confident threshold;
# breadth: the default model's mcts@4 with k = 4 (every rollout may sample a new first
#       step) on the slice, then on test[:50].
# independent: the default model on test[:50] with seeds 1 and 2: mcts@4 whose every
#       rollout is an independent sample (k = 4, visits backup; today's default), sc@4
#       and the previous default mcts@4 (k = 3, local backup); then those trees on the
#       fast model, seed 0.
# fastseeds: the fast model on test[:50] with seeds 1 and 2: sc@4, the independent
#       trees and the previous default, so its comparisons pool 150 pairs as the 1.5B's do.
# fastmore: the fast model on test[:50] with seeds 3 and 4: sc@4 and the default mcts@4
#       (the independent trees), fixed before they ran and reported whatever they show.
# prelude: seed 0 of sc@4 and the default mcts@4 on test[:50] again, fast model first,
#       with the cell prelude (Fraction, fractions, math and sympy bound up front).
# confseeds: the default model's confident sc@4 at today's threshold on test[:50] with
#       seeds 1 and 2, so the adaptive target is judged over 150 pairs as mcts@4's is.
# mctsconf: the default mcts@4 (independent rollouts) with --settle confident, which mcts
#       takes since its lazy rollouts end in one answer each: both models, seed 0, then
#       the default model's seeds 1 and 2.
# stepfloor: the confident sc@4 with every sample dropped at its first step less sure than
#       0.69 (--step-floor, the floor chosen on train by replaying stored samples):
#       the fast model's seeds 0-2 and the default model's, interleaved.
# Every eval resumes its stored run. Exports travel in git (benchmarks/search18/,
# written by `benchmarks/run_search18.sh save`), so a fresh machine resumes too.
set -euo pipefail
cd "$(dirname "$0")/.."
STORE=runs/search18/runs.db
EXPORTS=benchmarks/search18
mkdir -p runs/search18
phase=${1:?usage: run_search18.sh tune|test|seeds|scan|breadth|independent|fastseeds|fastmore|prelude|confseeds|mctsconf|stepfloor|save [--max-minutes M]}
shift
minutes=0
if [ "${1:-}" = "--max-minutes" ]; then minutes=$2; fi
deadline=$(( $(date +%s) + ${minutes%.*} * 60 ))

if [ "$phase" = save ]; then
    exec benchmarks/store_sync.sh export "$STORE" "$EXPORTS"
fi
benchmarks/store_sync.sh import "$STORE" "$EXPORTS"

# The runs take hours: they use the committed source, copied once per version of
# src/, so an edit of the working tree meanwhile cannot reach a search starting
# later (a half-written module once killed a run) and every result comes from
# committed code.
commit=$(git rev-parse --short HEAD)
snapshot=runs/search18/src-$(git rev-parse --short HEAD:src)
if [ ! -d "$snapshot" ]; then
    rm -rf "$snapshot.tmp" && mkdir -p "$snapshot.tmp"
    git archive HEAD src | tar -x -C "$snapshot.tmp"
    mv "$snapshot.tmp" "$snapshot"
fi
git diff --quiet HEAD -- src || echo "note: src has uncommitted changes; running commit $commit"
export PYTHONPATH=$PWD/$snapshot/src

# One eval, given what is left of the sitting's minutes (none left: stop here).
run() {
    local budget=()
    if [ "$minutes" != 0 ]; then
        local left=$(( (deadline - $(date +%s)) / 60 ))
        if [ "$left" -lt 2 ]; then echo "out of minutes; rerun to continue"; exit 0; fi
        budget=(--max-minutes "$left")
    fi
    .venv/bin/thinktree eval --store "$STORE" --json "${budget[@]}" "$@"
}

# The settings before issue 18: frozen agreement with earlier answers, first-child
# ties, no resampling, an invalid ending's -1 on its node, temperature 0.7, full expansion.
OLD=(--agreement earlier --tie-break first --resample 0 --invalid-backup local --temperature 0.7
     --c-uct 2.0 --no-unvisited-first --expand all)
# The default mcts@4 of these runs until independent rollouts became the default
# (lazy expansion at k = 3, the local invalid backup), named in full so a rerun finds them.
PREVIOUS="--strategy mcts --rollouts 4 --k 3 --invalid-backup local"
# shellcheck disable=SC2206  # the options are words on purpose
MCTS=($PREVIOUS --seed 0)
# Independent rollouts (today's default mcts@4 without a scorer), named in full as the
# runs that measured them were made.
INDEPENDENT="--strategy mcts --rollouts 4 --k 4 --invalid-backup visits"

case "$phase" in
tune)
    TUNE=(--benchmark gsm8k --split train --offset 7000 --limit 20 --model fast "${MCTS[@]}")
    # Full expansion unless a row says otherwise (a later option wins); a repeated
    # answer dropped, as before repeat votes became the default.
    NEW=(--agreement all --tie-break random --invalid-backup local --c-uct 2.0 --no-unvisited-first
         --expand all --repeat-answers drop)
    run "${TUNE[@]}" "${OLD[@]}"
    run "${TUNE[@]}" "${OLD[@]}" --agreement all
    run "${TUNE[@]}" "${NEW[@]}" --temperature 0.7 --resample 0
    run "${TUNE[@]}" "${NEW[@]}" --temperature 1.0 --resample 0
    run "${TUNE[@]}" "${NEW[@]}" --temperature 1.0 --resample 2
    run "${TUNE[@]}" "${NEW[@]}" --temperature 1.0 --resample 2 --c-uct 1.0
    run "${TUNE[@]}" "${NEW[@]}" --temperature 1.0 --resample 2 --unvisited-first
    run "${TUNE[@]}" "${NEW[@]}" --temperature 1.0 --resample 2 --invalid-backup path
    # Lazy expansion (added after the test runs: the default mcts@4 cost 2.9x sc@4's tokens).
    run "${TUNE[@]}" "${NEW[@]}" --temperature 1.0 --resample 0 --expand lazy
    run "${TUNE[@]}" "${NEW[@]}" --temperature 1.0 --resample 0 --expand lazy --unvisited-first
    # The reference the rows are weighed against: sc@4 on the same slice.
    run --benchmark gsm8k --split train --offset 7000 --limit 20 --model fast --strategy sc \
        --samples 4 --seed 0
    # Temperature under lazy expansion, on both models (added after the 1.5B's lazy
    # default at 1.0 answered 4 of test's first 18 against sc@4's 14: its first rollout,
    # one sample at 1.0, was right 4 times in 17 against sc's first sample's 9 in 18).
    LAZY=("${NEW[@]}" --resample 0 --expand lazy --unvisited-first)
    for temperature in 0.7 1.0; do
        run "${TUNE[@]/fast/default}" "${LAZY[@]}" --temperature "$temperature"
    done
    run "${TUNE[@]}" "${LAZY[@]}" --temperature 0.7
    run --benchmark gsm8k --split train --offset 7000 --limit 20 --model default --strategy sc \
        --samples 4 --seed 0
    # A lazy rollout that re-finds an answer votes again (7 of the 1.5B's 78 rollouts
    # above re-found one and were lost).
    for model in default fast; do
        run "${TUNE[@]/fast/$model}" "${LAZY[@]}" --temperature 0.7 --repeat-answers vote
    done
    # An invalid ending's -1 up the path (rStar's code) under lazy expansion: with the
    # local rule a branch that only crashes keeps N = 0, so an unsampled-first selection
    # takes it as unvisited again and again (66 of the 0.5B's 70 rollouts that ended
    # without an answer on test, 17 of the 1.5B's 30, ended below such a node).
    # The fast model only: on the 1.5B's slice one rollout of 80 ended so (b5d162).
    run "${TUNE[@]}" "${LAZY[@]}" --temperature 0.7 --repeat-answers vote --invalid-backup path
    # The crashing branch's trap without the path rule's -1 on the ancestors: the ending's
    # -1 stays local and the path counts a visit worth 0 (two of the 1.5B's nine losses
    # to sc@4 on test lost most rollouts to such a branch).
    for model in default fast; do
        run "${TUNE[@]/fast/$model}" "${LAZY[@]}" --temperature 0.7 --repeat-answers vote \
            --invalid-backup visits
    done
    ;;
test)
    # The evolve run's dev greedy of the base 0.5B (test[:100]) is this same search:
    # its first 50 problems are reused, not solved again.
    .venv/bin/thinktree runs import benchmarks/evolve/gsm8k-test-greedy-ccaf9a.jsonl.gz \
        --store "$STORE"
    # The runs the targets name first, on both models (the fast one first); the old
    # settings (the slowest) last.
    for model in fast default; do
        TEST=(--benchmark gsm8k --split test --limit 50 --model "$model")
        run "${TEST[@]}" --strategy greedy
        run "${TEST[@]}" --strategy sc --samples 4 --seed 0
        run "${TEST[@]}" "${MCTS[@]}"
    done
    # Then, one rule at a time: a decided vote on the default model (the adaptive sc
    # target), adaptive mcts on both, a confident first sample on the default model
    # (added when a decided vote proved unable to reach 60 % of sc@4's tokens: its
    # threshold, 0.87, was chosen on train[7000:7100]'s stored sc@4 samples, config.py), the
    # default model's old settings (the new default's comparison the issue names), the
    # rest. (Path backup under lazy expansion lost on the fast model's slice, 6 against
    # 9: no test rows.)
    DECIDED="--strategy sc --samples 4 --seed 0 --settle decided"
    ADAPTIVE_MCTS="${MCTS[*]} --settle agree --settle-m 2"
    AGREE_SC="--strategy sc --samples 4 --seed 0 --settle agree --settle-m 2"
    OLD_MCTS="${MCTS[*]} ${OLD[*]}"
    CONFIDENT="--strategy sc --samples 4 --seed 0 --settle confident"
    runs=("default $DECIDED" "default $ADAPTIVE_MCTS" "fast $ADAPTIVE_MCTS" "default $CONFIDENT"
          "default $OLD_MCTS" "fast $DECIDED" "fast $CONFIDENT" "fast $AGREE_SC"
          "default $AGREE_SC" "fast $OLD_MCTS")
    for model_and_options in "${runs[@]}"; do
        # shellcheck disable=SC2086  # the options are words on purpose
        run --benchmark gsm8k --split test --limit 50 --model $model_and_options
    done
    ;;
seeds)
    # How far one configuration's runs differ (the 1.5B's sc@4 answered 37 on test[:50]
    # here and 29 in issue 5 under one fingerprint): the targets' runs on the default
    # model again with seed 1, so each comparison can also be made over 100 pairs of
    # (problem, seed) instead of 50.
    for options in "--strategy sc --samples 4" "$PREVIOUS" \
                   "--strategy sc --samples 4 --settle confident"; do
        # shellcheck disable=SC2086  # the options are words on purpose
        run --benchmark gsm8k --split test --limit 50 --model default $options --seed 1
    done
    ;;
scan)
    # The confident rule's threshold (0.88) was chosen on the slice's 20 problems, where
    # the 1.5B's first samples proved more confident than on test (9 of 20 stopped after
    # one there, 9 of 50 on test). Replaying more of train's samples chooses it on 100
    # problems, still clear of test.
    run --benchmark gsm8k --split train --offset 7020 --limit 80 --model default \
        --strategy sc --samples 4 --seed 0
    ;;
breadth)
    # Without a scorer a rollout's value is its answer's agreement with the others, so
    # a rollout selection sends below a sampled first step is drawn towards the answers
    # already found, and the vote loses an independent sample: at k = 3 the fourth of
    # four rollouts always is. With k = 4 the root can sample a new first step for all.
    for options in "--benchmark gsm8k --split train --offset 7000 --limit 20" \
                   "--benchmark gsm8k --split test --limit 50"; do
        # shellcheck disable=SC2086  # the options are words on purpose
        run $options --model default --strategy mcts --rollouts 4 --k 4 --invalid-backup local --seed 0
    done
    # k = 4 alone answered 32 of test's 50 against sc@4's 37, with more rollouts lost
    # below a crashing first step (at N = 0 it ties with a new one under local backup).
    # With visits backup a crash counts as a visit, so every rollout starts a new first
    # step: each rollout an independent sample, as in sc.
    run --benchmark gsm8k --split test --limit 50 --model default --strategy mcts \
        --rollouts 4 --k 4 --invalid-backup visits --seed 0
    # Both k = 4 runs answered 32, tying sc@4's seed-1 run (32) and losing to its
    # seed-0 one (37): k = 4 with seed 1 pools the comparison over 100 pairs.
    run --benchmark gsm8k --split test --limit 50 --model default --strategy mcts \
        --rollouts 4 --k 4 --invalid-backup local --seed 1
    ;;
independent)
    # With k = 4 and visits backup each lazy rollout samples a new first step (or repeats
    # one, as a sample may) and goes on below it one sampled step at a time: the same
    # draws as sc's, one request per rollout instead of one for the first steps of all.
    # Whether such trees still answer below sc@4 (d250a4: 32 against 37 on seed 0)
    # decides whether the gap is the requests' seeding and batching or the spread between
    # runs; seed 2 adds a third set of pairs for sc@4, these trees and the default.
    for options in "$INDEPENDENT --seed 1" "--strategy sc --samples 4 --seed 2" \
                   "$INDEPENDENT --seed 2" "$PREVIOUS --seed 2"; do
        # shellcheck disable=SC2086  # the options are words on purpose
        run --benchmark gsm8k --split test --limit 50 --model default $options
    done
    # Over 150 (problem, seed) pairs such trees tied sc@4 (won 15, lost 15) where the
    # default lost: the fast model's, before either becomes a default.
    # shellcheck disable=SC2086  # the options are words on purpose
    run --benchmark gsm8k --split test --limit 50 --model fast $INDEPENDENT --seed 0
    ;;
fastseeds)
    # On the fast model's seed 0 the independent trees answered 9, sc@4 10 and the
    # default 12: differences a single seed cannot tell from the spread between seeds
    # (the 1.5B's sc@4 moved from 37 to 32 with another seed). Seeds 1 and 2 of all three
    # judge whether one setting is level with sc@4 on both models over 150 pairs.
    for seed in 1 2; do
        for options in "--strategy sc --samples 4" "$INDEPENDENT" \
                       "$PREVIOUS"; do
            # shellcheck disable=SC2086  # the options are words on purpose
            run --benchmark gsm8k --split test --limit 50 --model fast $options --seed "$seed"
        done
    done
    ;;
fastmore)
    # Over seeds 0-2 the fast model's default mcts@4 answered 30 of 150 against sc@4's
    # 32 (won 10, lost 12): a gap a sign test cannot see. Two more seeds of both, decided
    # on before they ran, narrow what "level" can mean there; no further seeds follow.
    for seed in 3 4; do
        for options in "--strategy sc --samples 4" "$INDEPENDENT"; do
            # shellcheck disable=SC2086  # the options are words on purpose
            run --benchmark gsm8k --split test --limit 50 --model fast $options --seed "$seed"
        done
    done
    ;;
prelude)
    # 20-28 of the fast model's 200 sc@4 samples per run ended unanswered after a
    # NameError on Fraction, which the prompt's second example imports in its first
    # step and the model copies without the import. Each run is its seed's run again
    # but for the prelude (not a paired draw: the batches' floating point differs
    # between sittings, so samples part even where no cell met the error). Fixed after
    # the fast sc@4 run, before the other three: the prelude becomes the default
    # unless these four runs together answer fewer problems than their pairs without
    # it (it repairs a promise the prompt makes, so a tie keeps it). Decided on
    # 2026-12-03: 86 against 88, so it stays off (search.json, issue18.prelude_rule).
    for model in fast default; do
        for options in "--strategy sc --samples 4" "$INDEPENDENT"; do
            # shellcheck disable=SC2086  # the options are words on purpose
            run --benchmark gsm8k --split test --limit 50 --model "$model" $options --seed 0 \
                --cell-prelude
        done
    done
    ;;
confseeds)
    # The confident rule at today's threshold (0.87) has one run (seed 0: 31 against sc@4's
    # 37 at 73 % of its tokens); seed 1 ran at 0.88. Seeds 1 and 2 at 0.87, against sc@4's
    # runs of those seeds, judge the adaptive target over 150 (problem, seed) pairs.
    # Fixed before they ran; no further seeds follow, and they are reported as they fall.
    # Ran 2026-12-03: 30 and 31 right; over seeds 0-2 61.3 % against sc@4's 67.3 % at 69 %
    # of its tokens (search.json, issue18.seeds).
    for seed in 1 2; do
        run --benchmark gsm8k --split test --limit 50 --model default --strategy sc --samples 4 \
            --settle confident --seed "$seed"
    done
    ;;
mctsconf)
    # The adaptive mcts runs above stop the previous default (k = 3) when its first two
    # answers agree, and saved little (the fast model's: 639 tokens against 671). Today's
    # default draws each rollout as an independent sample, so it takes the rules that
    # reason about the answers still to come: a confident first rollout (at the threshold
    # chosen for sc's first sample on train) or a decided vote. Fixed before they ran, in
    # this order, reported as they fall: both models' seed 0, then the default model's
    # seeds 1 and 2 against its default mcts@4 and sc@4 of the same seeds.
    # Ran 2026-12-03/04: the fast model 12 right (the full trees 9); the default model 28,
    # 26 and 33, over seeds 0-2 58.0 % against the full trees' 67.3 % at 71 % of their
    # tokens (search.json, issue18.seeds).
    for model_and_seed in "fast 0" "default 0" "default 1" "default 2"; do
        read -r model seed <<< "$model_and_seed"
        # shellcheck disable=SC2086  # the options are words on purpose
        run --benchmark gsm8k --split test --limit 50 --model "$model" $INDEPENDENT \
            --settle confident --seed "$seed"
    done
    ;;
stepfloor)
    # Replayed on stored sc@4 samples (search18_report.py, step_floor), the floor of 0.69
    # cut the fast model's tokens from 76-84 % of sc@4's to 61-71 % within one problem of
    # its vote on five seeds, and the default model's by 0-3 points. These runs draw their
    # own samples. Fixed before they ran, in this order, reported as they fall: seed 0 of
    # each model, then the fast model's seeds 1 and 2, then the default model's, each
    # against sc@4 and the confident sc@4 of its seed.
    # Ran 2026-12-04: the fast model 11, 10 and 9 (sc@4: 10, 11, 11) at 68 % of sc@4's
    # tokens pooled; the default model 30, 31 and 30 (sc@4: 37, 32, 32) at 64 %.
    for model_and_seed in "fast 0" "default 0" "fast 1" "fast 2" "default 1" "default 2"; do
        read -r model seed <<< "$model_and_seed"
        run --benchmark gsm8k --split test --limit 50 --model "$model" --strategy sc --samples 4 \
            --settle confident --step-floor 0.69 --seed "$seed"
    done
    ;;
*)
    echo "unknown phase: $phase (tune, test, seeds, scan, breadth, independent, fastseeds, fastmore, prelude, confseeds, mctsconf, stepfloor or save)" >&2
    exit 2
    ;;
esac
