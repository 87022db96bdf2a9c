/* stream.h — the record-stream runtime: read and write rizz streams over any transport.
 *
 * A location names a transport:
 *   "-"                   stdin (reading) or stdout (writing)
 *   a path                a file; a written file appears only when the stream is
 *                         complete (unnamed temp file in the same folder, named on
 *                         close); a device or FIFO is written in place
 *   tcp://HOST:PORT       ZeroMQ. Writers bind a PUSH socket, readers connect a PULL
 *   ipc://PATH            socket (prefix "bind:" or "connect:" to swap). A bare host
 *                         ("tcp://:5555") means 127.0.0.1; listening on every interface
 *                         needs the star host written out: "tcp://" "*:5555".
 * Each record is one msgpack map (one ZeroMQ message). High-water marks make a fast
 * producer block rather than drop; a silent peer becomes an error after opts.timeout_s.
 * A writer never reports success for records no reader took: it sends only to a
 * connected reader (a connecting writer waits for one), and a close whose last records
 * are still queued after the timeout fails.
 *
 * Writing: rz_writer_open, then for each record rz_writer_packer + rz_rec_* calls and
 * rz_writer_emit; rz_writer_close appends the "end" record (count + checksum) and
 * publishes the file. On failure call rz_writer_abort: it sends an "error" record on a
 * pipe/socket, deletes the temp file, and leaves nothing half-written.
 *
 * Reading: rz_reader_next returns one decoded record at a time, validated to be a map
 * with "type" and "v", bounded in size before any allocation; at the "end" record it
 * checks count and checksum and returns *rec == NULL. EOF without "end", an "error"
 * record from upstream, or a timeout are RZ_EINPUT errors naming the source and index.
 */
#ifndef RZ_STREAM_H
#define RZ_STREAM_H

#include <msgpack.h>
#include <stdio.h>

#include "record.h"
#include "rz.h"

typedef struct {
    double timeout_s;  /* ZeroMQ: max silence from the peer before failing (default 30) */
    int hwm;           /* ZeroMQ high-water mark in records (default 64) */
    const char *tool;  /* for error records and messages, e.g. "rz-ppl" */
} rz_stream_opts;

void rz_stream_opts_default(rz_stream_opts *o);

/* ---- writing ----------------------------------------------------------------------- */
typedef struct rz_writer rz_writer;

int rz_writer_open(const char *location, const rz_stream_opts *o, rz_writer **w, rz_err *e);
/* The packer for the next record; its buffer is cleared by the previous emit. */
msgpack_packer *rz_writer_packer(rz_writer *w);
/* Sends the packed record (checksummed and counted). */
int rz_writer_emit(rz_writer *w, rz_err *e);
/* Sends one record that was packed elsewhere (e.g. on another MPI rank); rec must be
 * exactly one MessagePack map. */
int rz_writer_emit_raw(rz_writer *w, const void *rec, size_t n, rz_err *e);
/* A whole stream of pre-packed records: open, emit each, close; nothing is left behind
 * on failure. */
int rz_write_records(const char *location, const rz_stream_opts *o, void *const *recs,
                     const size_t *lens, long count, rz_err *e);
/* Appends "end", flushes, publishes (rename) and frees. On error the output is removed. */
int rz_writer_close(rz_writer *w, rz_err *e);
/* Abandons the stream: error record where a reader may be waiting, temp file removed. */
void rz_writer_abort(rz_writer *w, const rz_err *why);
uint64_t rz_writer_count(const rz_writer *w);

/* ---- reading ----------------------------------------------------------------------- */
typedef struct rz_reader rz_reader;

int rz_reader_open(const char *location, const rz_stream_opts *o, rz_reader **r, rz_err *e);
/* Reads a stream held in memory (tests, fuzzing); name is used in messages. */
int rz_reader_open_mem(const void *data, size_t n, const char *name, rz_reader **r, rz_err *e);
/* Next record: *rec valid until the next call; *rec == NULL after a verified "end". */
int rz_reader_next(rz_reader *r, const msgpack_object **rec, rz_rec_ctx *ctx, rz_err *e);
/* The stream's first record, which must be of TYPE; otherwise RZ_EINPUT "SOURCE: not WHAT
 * (first record is X, expected TYPE)". Call it before any rz_reader_next. */
int rz_reader_first(rz_reader *r, const char *type, const char *what, const msgpack_object **rec, rz_rec_ctx *ctx,
                    rz_err *e);
void rz_reader_close(rz_reader *r);
const char *rz_reader_source(const rz_reader *r);
/* 1 if p[0..n) is exactly one MessagePack object, every declared length and count backed
 * by the bytes present (the reader's framing walk, within RZ_MAX_RECORD_BYTES): msgpack-c
 * then never allocates for elements that do not exist. */
int rz_stream_one_object(const void *p, size_t n);

/* True if the location is a ZeroMQ endpoint. */
int rz_is_endpoint(const char *location);
/* The ZeroMQ address of an endpoint location, by the rules above: a bind:/connect:
 * prefix sets *bind (else default_bind), "tcp://:PORT" becomes tcp://127.0.0.1:PORT,
 * connecting to '*' is refused. For sockets other than PUSH/PULL (rz-serve). */
int rz_endpoint_parse(const char *loc, int default_bind, char *addr, size_t cap, int *bind, rz_err *e);

/* Plain output files (text, CSV, PNG data) with the same temp+rename discipline. */
typedef struct {
    FILE *f;
    char *path, *tmp;
    int kind; /* 0 = stdout; else how the file is written (stream.c, "output files") */
} rz_outfile;
/* Up-front check that path can be written (before the work): "-" and endpoints pass;
 * an existing directory, a missing, unwritable or read-only folder, an unwritable device
 * → RZ_EINPUT naming the path. */
int rz_output_check(const char *path, rz_err *e);
int rz_outfile_open(rz_outfile *o, const char *path, rz_err *e); /* "-" = stdout */
int rz_outfile_commit(rz_outfile *o, rz_err *e);
void rz_outfile_abort(rz_outfile *o);

#endif
