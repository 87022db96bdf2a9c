# bench/stories_calib.sh — sourced by bench/tables.sh and bench/act8.sh (not run alone).
# Sets D (RIZZ_DATA), M, Z, F (stories260K.bin, tok512.bin, tinystories-valid.txt; exits
# 0 with "skipped" when one is missing), P (the programs' folder), a scratch folder W
# removed on exit, W/calib.txt (the first 60,000 bytes of F) and its Hessians W/h.rzs
# (rz-calibrate --ctx 128 -n 8, CALIB_THREADS threads, default 2; the Hessians are the
# same bits for any thread count).
D=${RIZZ_DATA:-../shared/data}
M=$D/stories260K.bin Z=$D/tok512.bin F=$D/tinystories-valid.txt
for f in "$M" "$Z" "$F"; do [ -r "$f" ] || { echo "  (skipped: $f not found)"; exit 0; }; done
P=bin
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
head -c 60000 "$F" > "$W/calib.txt"
$P/rz-calibrate -q -t "${CALIB_THREADS:-2}" -m "$M" -z "$Z" -f "$W/calib.txt" --ctx 128 -n 8 -o "$W/h.rzs" || exit 1
