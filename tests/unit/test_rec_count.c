/* test_rec_count.c — a record whose hand-written field count (rz_rec_begin) disagrees
 * with the fields packed never leaves: rz_rec_check against records built here with the
 * count right, one too high and one too low (also with a nested value after rz_rec_key),
 * and rz_writer_emit accepting a correct record and refusing a miscounted one with
 * RZ_EINTERNAL.
 * The expectations are the MessagePack rule itself: a map of n pairs is exactly n
 * key/value objects, so n − 1 leaves bytes after it and n + 1 runs out. */
#include <unistd.h>

#include "../check.h"
#include "record.h"
#include "stream.h"

static int build(msgpack_sbuffer *sb, int declared)
{
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    rz_rec_begin(&pk, "probe", 1, declared);
    rz_rec_int(&pk, "a", 1);
    rz_rec_key(&pk, "list");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 7);
    msgpack_pack_int(&pk, 8);
    rz_rec_str(&pk, "b", "x");
    rz_err e = {0};
    int rc = rz_rec_check(sb->data, sb->size, &e);
    if (rc) printf("#   declared %d: %s\n", declared, e.msg);
    return rc;
}

static void test_check_counts(void)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    CHECK_EQ_INT(build(&sb, 3), RZ_OK);
    CHECK_EQ_INT(build(&sb, 2), RZ_EINTERNAL);
    CHECK_EQ_INT(build(&sb, 4), RZ_EINTERNAL);
    CHECK_EQ_INT(build(&sb, 0), RZ_EINTERNAL);
    rz_err e = {0};
    build(&sb, 2);
    rz_rec_check(sb.data, sb.size, &e);
    CHECK(strstr(e.msg, "'probe'") != NULL && strstr(e.msg, "below") != NULL);
    msgpack_sbuffer_destroy(&sb);
}

static void test_writer_refuses(void)
{
    char path[] = "/tmp/rz_rec_count_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    rz_err e = {0};
    rz_writer *w;
    CHECK(rz_writer_open(path, NULL, &w, &e) == 0);
    msgpack_packer *pk = rz_writer_packer(w);
    rz_rec_begin(pk, "probe", 1, 1);
    rz_rec_int(pk, "a", 1);
    CHECK_EQ_INT(rz_writer_emit(w, &e), RZ_OK);
    rz_rec_begin(pk, "probe", 1, 1); /* one field declared, two written */
    rz_rec_int(pk, "a", 1);
    rz_rec_int(pk, "b", 2);
    CHECK_EQ_INT(rz_writer_emit(w, &e), RZ_EINTERNAL);
    CHECK(strstr(e.msg, "probe") != NULL);
    rz_writer_abort(w, &e);
    unlink(path);
}

int main(void)
{
    RUN(test_check_counts);
    RUN(test_writer_refuses);
    return check_summary();
}
