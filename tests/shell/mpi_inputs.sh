# mpi_inputs.sh — under mpirun every rank must run the same command on the same files:
# different models, a different --ctx or --seed on one rank → exit 2 naming the option
# and the ranks (before any work); options that cannot change results (-t, -q) may differ.
. "$(dirname "$0")/lib.sh"
need_data stories260K.bin; need_data tok512.bin; need_data tinystories-valid.txt
command -v mpirun >/dev/null || { ok "mpi inputs # SKIP no mpirun"; exit 0; }
# OpenMPI's own allocations at exit look like leaks to LeakSanitizer (see mpi.sh)
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
M=$RIZZ_DATA/stories260K.bin Z=$RIZZ_DATA/tok512.bin F=$RIZZ_DATA/tinystories-valid.txt
rz-convert "$M" -o "$T/a.rzm"
# same shape as stories260K, other weights
rz-convert --random --dim 64 --layers 5 --heads 8 --kv-heads 4 --hidden 172 --vocab 512 --seq-len 512 \
  --seed 3 -o "$T/b.rzm"
P="-q -z $Z -f $F --max-tokens 2048 --ctx 256"
check_err "rz-ppl: ranks with different models → exit 2 naming -m and rank 1" 2 \
  "-m .*a\.rzm.*rank 1 has -m .*b\.rzm" mpirun -np 1 rz-ppl -m "$T/a.rzm" $P : -np 1 rz-ppl -m "$T/b.rzm" $P
# the same name in each rank's folder (as on two nodes), different files
mkdir -p "$T/r0" "$T/r1"; cp "$T/a.rzm" "$T/r0/m.rzm"; cp "$T/b.rzm" "$T/r1/m.rzm"
check_err "rz-ppl: same path, different contents → exit 2 naming the content" 2 \
  "rank 0 has -m m\.rzm \(content [0-9a-f]+\), rank 1 has -m m\.rzm \(content" \
  mpirun -np 1 --wdir "$T/r0" rz-ppl -m m.rzm $P : -np 1 --wdir "$T/r1" rz-ppl -m m.rzm $P
check_err "rz-ppl: --ctx differs between ranks → exit 2 naming --ctx" 2 \
  "rank 0 has --ctx 256, rank 1 has --ctx 128" \
  mpirun -np 1 rz-ppl -m "$T/a.rzm" $P : -np 1 rz-ppl -m "$T/a.rzm" ${P% 256} 128
check_err "rz-ppl: a text file differing on rank 2 of 3 → exit 2 naming rank 2" 2 \
  "ranks differing from rank 0: 2\)" \
  mpirun -np 2 rz-ppl -m "$T/a.rzm" $P : -np 1 rz-ppl -m "$T/a.rzm" -q -z "$Z" -f "$RIZZ_DATA/stories260K.greedy256.txt" --max-tokens 2048 --ctx 256
check "rz-ppl: ranks differing only in -t and -q agree" \
  mpirun -np 1 rz-ppl -m "$T/a.rzm" $P -t 1 : -np 1 rz-ppl -m "$T/a.rzm" $P -t 2
FT="-z $Z -f $F --max-tokens 4096 --ctx 32 --steps 1 --batch 2 -q --rank 2"
check_err "rz-finetune: --seed differs between ranks → exit 2 naming --seed" 2 "rank 1 has --seed 8" \
  mpirun -np 1 rz-finetune -m "$M" $FT --seed 7 --adapters "$T/ad" : -np 1 rz-finetune -m "$M" $FT --seed 8 --adapters "$T/ad"
