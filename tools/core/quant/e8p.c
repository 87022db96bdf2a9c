/* e8p.c — QuIP#'s E8P codebook, its 1-bit E8 companion and the RVQ 3/4-bit codebooks
 * (see e8p.h for the construction, the code layout and the search).
 *
 * The two tables are constants written out from their definitions (tests/unit/test_e8p.c
 * rebuilds both from the definitions and compares). Encoders expand them into
 * transposed float tables on the stack once per call, then score all 256 patterns of a
 * vector in loops over the pattern index, which the compiler vectorises.
 */
#include "e8p.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

/* 227 |D8 + 1/2| patterns with norm² ≤ 10 in lexicographic order (first coordinate most
 * significant), then QuIP#'s 29 norm-12 patterns in its order (get_norm12 of
 * latticee8_padded12.py at 79b752f, whose 28th row (1,1,3,3,1,3,3,3)/2 replaced the
 * duplicate of the 22nd row (1,3,3,3,1,1,3,3)/2 found in earlier versions). */
const uint32_t rz_e8p_abs2[256] = {
    0x11111111, 0x31111111, 0x51111111, 0x13111111, 0x33111111, 0x53111111, 0x15111111, 0x35111111,
    0x11311111, 0x31311111, 0x51311111, 0x13311111, 0x33311111, 0x15311111, 0x11511111, 0x31511111,
    0x13511111, 0x11131111, 0x31131111, 0x51131111, 0x13131111, 0x33131111, 0x15131111, 0x11331111,
    0x31331111, 0x13331111, 0x33331111, 0x11531111, 0x11151111, 0x31151111, 0x13151111, 0x11351111,
    0x11113111, 0x31113111, 0x51113111, 0x13113111, 0x33113111, 0x15113111, 0x11313111, 0x31313111,
    0x13313111, 0x33313111, 0x11513111, 0x11133111, 0x31133111, 0x13133111, 0x33133111, 0x11333111,
    0x31333111, 0x13333111, 0x11153111, 0x11115111, 0x31115111, 0x13115111, 0x11315111, 0x11135111,
    0x11111311, 0x31111311, 0x51111311, 0x13111311, 0x33111311, 0x15111311, 0x11311311, 0x31311311,
    0x13311311, 0x33311311, 0x11511311, 0x11131311, 0x31131311, 0x13131311, 0x33131311, 0x11331311,
    0x31331311, 0x13331311, 0x11151311, 0x11113311, 0x31113311, 0x13113311, 0x33113311, 0x11313311,
    0x31313311, 0x13313311, 0x11133311, 0x31133311, 0x13133311, 0x11333311, 0x11115311, 0x11111511,
    0x31111511, 0x13111511, 0x11311511, 0x11131511, 0x11113511, 0x11111131, 0x31111131, 0x51111131,
    0x13111131, 0x33111131, 0x15111131, 0x11311131, 0x31311131, 0x13311131, 0x33311131, 0x11511131,
    0x11131131, 0x31131131, 0x13131131, 0x33131131, 0x11331131, 0x31331131, 0x13331131, 0x11151131,
    0x11113131, 0x31113131, 0x13113131, 0x33113131, 0x11313131, 0x31313131, 0x13313131, 0x11133131,
    0x31133131, 0x13133131, 0x11333131, 0x11115131, 0x11111331, 0x31111331, 0x13111331, 0x33111331,
    0x11311331, 0x31311331, 0x13311331, 0x11131331, 0x31131331, 0x13131331, 0x11331331, 0x11113331,
    0x31113331, 0x13113331, 0x11313331, 0x11133331, 0x11111531, 0x11111151, 0x31111151, 0x13111151,
    0x11311151, 0x11131151, 0x11113151, 0x11111351, 0x11111113, 0x31111113, 0x51111113, 0x13111113,
    0x33111113, 0x15111113, 0x11311113, 0x31311113, 0x13311113, 0x33311113, 0x11511113, 0x11131113,
    0x31131113, 0x13131113, 0x33131113, 0x11331113, 0x31331113, 0x13331113, 0x11151113, 0x11113113,
    0x31113113, 0x13113113, 0x33113113, 0x11313113, 0x31313113, 0x13313113, 0x11133113, 0x31133113,
    0x13133113, 0x11333113, 0x11115113, 0x11111313, 0x31111313, 0x13111313, 0x33111313, 0x11311313,
    0x31311313, 0x13311313, 0x11131313, 0x31131313, 0x13131313, 0x11331313, 0x11113313, 0x31113313,
    0x13113313, 0x11313313, 0x11133313, 0x11111513, 0x11111133, 0x31111133, 0x13111133, 0x33111133,
    0x11311133, 0x31311133, 0x13311133, 0x11131133, 0x31131133, 0x13131133, 0x11331133, 0x11113133,
    0x31113133, 0x13113133, 0x11313133, 0x11133133, 0x11111333, 0x31111333, 0x13111333, 0x11311333,
    0x11131333, 0x11113333, 0x11111153, 0x11111115, 0x31111115, 0x13111115, 0x11311115, 0x11131115,
    0x11113115, 0x11111315, 0x11111135, 0x33331113, 0x33331131, 0x33331311, 0x33333111, 0x11331333,
    0x13131333, 0x13311333, 0x31131333, 0x31311333, 0x33111333, 0x11333133, 0x13133133, 0x13313133,
    0x31133133, 0x31313133, 0x33113133, 0x11333313, 0x13133313, 0x13313313, 0x31133313, 0x31313313,
    0x33113331, 0x11333331, 0x13133331, 0x13313331, 0x31133331, 0x31313331, 0x33313311, 0x13331133,
};

/* E8 points of norm² ≤ 2 (integer points, then half-integer points, each in
 * lexicographic order with coordinate 0 most significant and values ascending), then
 * +2e_1..+2e_8 and −2e_1..−2e_7. */
const uint32_t rz_e81b_grid2[256] = {
    0x88888866, 0x88888686, 0x88886886, 0x88868886, 0x88688886, 0x86888886, 0x68888886, 0xa8888886,
    0x8a888886, 0x88a88886, 0x888a8886, 0x8888a886, 0x88888a86, 0x888888a6, 0x88888668, 0x88886868,
    0x88868868, 0x88688868, 0x86888868, 0x68888868, 0xa8888868, 0x8a888868, 0x88a88868, 0x888a8868,
    0x8888a868, 0x88888a68, 0x88886688, 0x88868688, 0x88688688, 0x86888688, 0x68888688, 0xa8888688,
    0x8a888688, 0x88a88688, 0x888a8688, 0x8888a688, 0x88866888, 0x88686888, 0x86886888, 0x68886888,
    0xa8886888, 0x8a886888, 0x88a86888, 0x888a6888, 0x88668888, 0x86868888, 0x68868888, 0xa8868888,
    0x8a868888, 0x88a68888, 0x86688888, 0x68688888, 0xa8688888, 0x8a688888, 0x66888888, 0xa6888888,
    0x88888888, 0x6a888888, 0xaa888888, 0x86a88888, 0x68a88888, 0xa8a88888, 0x8aa88888, 0x886a8888,
    0x868a8888, 0x688a8888, 0xa88a8888, 0x8a8a8888, 0x88aa8888, 0x8886a888, 0x8868a888, 0x8688a888,
    0x6888a888, 0xa888a888, 0x8a88a888, 0x88a8a888, 0x888aa888, 0x88886a88, 0x88868a88, 0x88688a88,
    0x86888a88, 0x68888a88, 0xa8888a88, 0x8a888a88, 0x88a88a88, 0x888a8a88, 0x8888aa88, 0x888886a8,
    0x888868a8, 0x888688a8, 0x886888a8, 0x868888a8, 0x688888a8, 0xa88888a8, 0x8a8888a8, 0x88a888a8,
    0x888a88a8, 0x8888a8a8, 0x88888aa8, 0x8888886a, 0x8888868a, 0x8888688a, 0x8886888a, 0x8868888a,
    0x8688888a, 0x6888888a, 0xa888888a, 0x8a88888a, 0x88a8888a, 0x888a888a, 0x8888a88a, 0x88888a8a,
    0x888888aa, 0x77777777, 0x99777777, 0x97977777, 0x79977777, 0x97797777, 0x79797777, 0x77997777,
    0x99997777, 0x97779777, 0x79779777, 0x77979777, 0x99979777, 0x77799777, 0x99799777, 0x97999777,
    0x79999777, 0x97777977, 0x79777977, 0x77977977, 0x99977977, 0x77797977, 0x99797977, 0x97997977,
    0x79997977, 0x77779977, 0x99779977, 0x97979977, 0x79979977, 0x97799977, 0x79799977, 0x77999977,
    0x99999977, 0x97777797, 0x79777797, 0x77977797, 0x99977797, 0x77797797, 0x99797797, 0x97997797,
    0x79997797, 0x77779797, 0x99779797, 0x97979797, 0x79979797, 0x97799797, 0x79799797, 0x77999797,
    0x99999797, 0x77777997, 0x99777997, 0x97977997, 0x79977997, 0x97797997, 0x79797997, 0x77997997,
    0x99997997, 0x97779997, 0x79779997, 0x77979997, 0x99979997, 0x77799997, 0x99799997, 0x97999997,
    0x79999997, 0x97777779, 0x79777779, 0x77977779, 0x99977779, 0x77797779, 0x99797779, 0x97997779,
    0x79997779, 0x77779779, 0x99779779, 0x97979779, 0x79979779, 0x97799779, 0x79799779, 0x77999779,
    0x99999779, 0x77777979, 0x99777979, 0x97977979, 0x79977979, 0x97797979, 0x79797979, 0x77997979,
    0x99997979, 0x97779979, 0x79779979, 0x77979979, 0x99979979, 0x77799979, 0x99799979, 0x97999979,
    0x79999979, 0x77777799, 0x99777799, 0x97977799, 0x79977799, 0x97797799, 0x79797799, 0x77997799,
    0x99997799, 0x97779799, 0x79779799, 0x77979799, 0x99979799, 0x77799799, 0x99799799, 0x97999799,
    0x79999799, 0x97777999, 0x79777999, 0x77977999, 0x99977999, 0x77797999, 0x99797999, 0x97997999,
    0x79997999, 0x77779999, 0x99779999, 0x97979999, 0x79979999, 0x97799999, 0x79799999, 0x77999999,
    0x99999999, 0x8888888c, 0x888888c8, 0x88888c88, 0x8888c888, 0x888c8888, 0x88c88888, 0x8c888888,
    0xc8888888, 0x88888884, 0x88888848, 0x88888488, 0x88884888, 0x88848888, 0x88488888, 0x84888888,
};

/* bit of the sign byte that carries the sign of coordinate i */
static const int e8p_shuffle[8] = {0, 4, 1, 5, 2, 6, 3, 7};

static int nib(uint32_t w, int i) { return (int)((w >> (4 * i)) & 15u); }

/* 1 when the pattern's coordinate sum Σa is odd (Σ 2a_i ≡ 2 mod 4). */
static int abs_odd(uint32_t w)
{
    int s = 0;
    for (int i = 0; i < 8; i++) s += nib(w, i);
    return (s >> 1) & 1;
}

void rz_e8p_decode(uint32_t code, float *out)
{
    uint32_t w = rz_e8p_abs2[(code >> 8) & 255u];
    unsigned g = code & 255u;
    unsigned parity = (unsigned)__builtin_popcount(g) & 1u;
    g ^= parity;
    int odd = abs_odd(w);
    float t = parity ? -0.25f : 0.25f;
    for (int i = 0; i < 8; i++) {
        float v = 0.5f * (float)nib(w, i);
        if (i == 7 && odd) v = -v;
        if ((g >> e8p_shuffle[i]) & 1u) v = -v;
        out[i] = v + t;
    }
}

void rz_e81b_decode(uint32_t code, float *out)
{
    uint32_t w = rz_e81b_grid2[code & 255u];
    for (int i = 0; i < 8; i++) out[i] = 0.5f * (float)(nib(w, i) - 8);
}

static rz_e8p_tables decode_tables;
static pthread_once_t decode_tables_once = PTHREAD_ONCE_INIT;

static void decode_tables_init(void)
{
    rz_e8p_tables *T = &decode_tables;
    for (int p = 0; p < 256; p++) {
        int odd = abs_odd(rz_e8p_abs2[p]);
        for (int i = 0; i < 8; i++) {
            float a = 0.5f * (float)nib(rz_e8p_abs2[p], i);
            T->abs[p][i] = i == 7 && odd ? -a : a;
        }
        rz_e81b_decode((uint32_t)p, T->e81b[p]);
    }
    for (unsigned g0 = 0; g0 < 256; g0++) {
        unsigned parity = (unsigned)__builtin_popcount(g0) & 1u, g = g0 ^ parity;
        for (int i = 0; i < 8; i++) T->sign[g0][i] = (g >> e8p_shuffle[i]) & 1u ? -1.0f : 1.0f;
        T->shift[g0] = parity ? -0.25f : 0.25f;
    }
}

const rz_e8p_tables *rz_e8p_tables_get(void)
{
    pthread_once(&decode_tables_once, decode_tables_init);
    return &decode_tables;
}

/* ---- E8P encoder ----------------------------------------------------------------- */

/* Pattern table transposed for the scoring loops: A[i][p] = a_p[i]. */
typedef struct {
    float A[8][256];
    float norm[256];  /* ‖a_p‖² */
    float oddf[256];  /* 1 when Σa_p is odd */
    float evenf[256]; /* 1 − oddf */
} e8p_tabs;

static void e8p_tabs_init(e8p_tabs *T)
{
    for (int p = 0; p < 256; p++) {
        float nrm = 0.0f;
        for (int i = 0; i < 8; i++) {
            float a = 0.5f * (float)nib(rz_e8p_abs2[p], i);
            T->A[i][p] = a;
            nrm += a * a;
        }
        T->norm[p] = nrm;
        T->oddf[p] = (float)abs_odd(rz_e8p_abs2[p]);
        T->evenf[p] = 1.0f - T->oddf[p];
    }
}

/* First index of the maximum of sc[256], in two passes: 16 lane-wise maxima
 * (vectorised), then a scan for the first index attaining the maximum. */
static int argmax256(const float *sc)
{
    float lane[16];
    for (int l = 0; l < 16; l++) lane[l] = sc[l];
    for (int p = 16; p < 256; p += 16)
        for (int l = 0; l < 16; l++) lane[l] = sc[p + l] > lane[l] ? sc[p + l] : lane[l];
    float bs = lane[0];
    for (int l = 1; l < 16; l++)
        if (lane[l] > bs) bs = lane[l];
    int best = 0;
    while (best < 255 && sc[best] != bs) best++;
    return best;
}

/* Best pattern for y = x − t: fills sc[p] = max over parity-valid signs of
 * 2⟨y, s⊙a_p⟩ − ‖a_p‖² and returns the first maximising p. */
static int e8p_best_pattern(const e8p_tabs *T, const float *ay, int neg, float *sc)
{
    /* penalty weight: patterns whose parity differs from the sign parity of y pay 4·min */
    const float *pen = neg ? T->evenf : T->oddf;
    float a0 = ay[0], a1 = ay[1], a2 = ay[2], a3 = ay[3];
    float a4 = ay[4], a5 = ay[5], a6 = ay[6], a7 = ay[7];
    for (int p = 0; p < 256; p++) {
        float v0 = T->A[0][p] * a0, v1 = T->A[1][p] * a1, v2 = T->A[2][p] * a2;
        float v3 = T->A[3][p] * a3, v4 = T->A[4][p] * a4, v5 = T->A[5][p] * a5;
        float v6 = T->A[6][p] * a6, v7 = T->A[7][p] * a7;
        float dot = ((v0 + v1) + (v2 + v3)) + ((v4 + v5) + (v6 + v7));
        float m01 = v0 < v1 ? v0 : v1, m23 = v2 < v3 ? v2 : v3, m45 = v4 < v5 ? v4 : v5;
        float m67 = v6 < v7 ? v6 : v7, m03 = m01 < m23 ? m01 : m23, m47 = m45 < m67 ? m45 : m67;
        float mn = m03 < m47 ? m03 : m47;
        sc[p] = 2.0f * dot - T->norm[p] - 4.0f * pen[p] * mn;
    }
    return argmax256(sc);
}

static uint16_t e8p_encode_one(const e8p_tabs *T, const float *x, float *xq)
{
    float sc[256], ay[8];
    float best_score = 0.0f;
    int best_p = 0, best_k = 0;
    for (int k = 0; k < 2; k++) { /* k = 0: t = +1/4, k = 1: t = −1/4 (ties keep k = 0) */
        float t = k ? -0.25f : 0.25f;
        int neg = 0;
        float yy = 0.0f;
        for (int i = 0; i < 8; i++) {
            float y = x[i] - t;
            ay[i] = fabsf(y);
            yy += y * y;
            neg ^= (y < 0.0f);
        }
        /* ‖y − s⊙a‖² = ‖y‖² − score: the two shifts compare by −‖y‖² + score */
        int p = e8p_best_pattern(T, ay, neg, sc);
        if (k == 0 || sc[p] - yy > best_score) {
            best_score = sc[p] - yy;
            best_p = p;
            best_k = k;
        }
    }
    /* the signs of the winner: sign(y_i), and if their parity is wrong for the pattern,
     * flip the coordinate with the smallest a_i |y_i| */
    float t = best_k ? -0.25f : 0.25f, v[8];
    int negs[8], parity = 0;
    for (int i = 0; i < 8; i++) {
        float y = x[i] - t;
        negs[i] = y < 0.0f;
        parity ^= negs[i];
        v[i] = T->A[i][best_p] * fabsf(y);
    }
    int odd = T->oddf[best_p] != 0.0f;
    if (parity != odd) {
        int f = 0;
        for (int i = 1; i < 8; i++)
            if (v[i] < v[f]) f = i;
        negs[f] ^= 1;
    }
    unsigned g = 0;
    for (int i = 0; i < 8; i++) {
        float a = T->A[i][best_p];
        if (xq) xq[i] = (negs[i] ? -a : a) + t;
        unsigned e = (unsigned)(negs[i] ^ (i == 7 && odd)); /* coordinate 7 is pre-negated */
        g |= e << e8p_shuffle[i];
    }
    if (best_k) g ^= 1u; /* odd sign-byte parity encodes t = −1/4 */
    return (uint16_t)(((unsigned)best_p << 8) | g);
}

static void e8p_encode_tabs(const e8p_tabs *T, const float *x, long count, uint16_t *codes, float *xq)
{
    for (long v = 0; v < count; v++) {
        float q[8];
        uint16_t c = e8p_encode_one(T, x + 8 * v, q);
        if (codes) codes[v] = c;
        if (xq) memcpy(xq + 8 * v, q, sizeof q);
    }
}

void rz_e8p_encode(const float *x, long count, uint16_t *codes, float *xq)
{
    e8p_tabs T;
    e8p_tabs_init(&T);
    e8p_encode_tabs(&T, x, count, codes, xq);
}

/* ---- E81B encoder: exhaustive over its 256 points -------------------------------- */

typedef struct {
    float G[8][256];
    float norm[256];
} e81b_tabs;

static void e81b_tabs_init(e81b_tabs *T)
{
    for (int p = 0; p < 256; p++) {
        float nrm = 0.0f;
        for (int i = 0; i < 8; i++) {
            float g = 0.5f * (float)(nib(rz_e81b_grid2[p], i) - 8);
            T->G[i][p] = g;
            nrm += g * g;
        }
        T->norm[p] = nrm;
    }
}

static void e81b_encode_tabs(const e81b_tabs *T, const float *x, long count, uint8_t *codes, float *xq)
{
    float sc[256];
    for (long v = 0; v < count; v++) {
        const float *y = x + 8 * v;
        for (int p = 0; p < 256; p++) {
            float d = 0.0f;
            for (int i = 0; i < 8; i++) d += T->G[i][p] * y[i];
            sc[p] = 2.0f * d - T->norm[p];
        }
        int best = argmax256(sc);
        if (codes) codes[v] = (uint8_t)best;
        if (xq)
            for (int i = 0; i < 8; i++) xq[8 * v + i] = T->G[i][best];
    }
}

void rz_e81b_encode(const float *x, long count, uint8_t *codes, float *xq)
{
    e81b_tabs T;
    e81b_tabs_init(&T);
    e81b_encode_tabs(&T, x, count, codes, xq);
}

/* ---- residual codebooks ---------------------------------------------------------- */

float rz_e8p_opt_scale(int bits)
{
    return bits == 2 ? RZ_E8P_OPT_SCALE2 : bits == 3 ? RZ_E8P_OPT_SCALE3 : bits == 4 ? RZ_E8P_OPT_SCALE4 : 0.0f;
}

int rz_e8p_rvq_encode(int bits, const float *x, long count, uint32_t *codes, float *xq)
{
    if (bits < 2 || bits > 4) return -1;
    e8p_tabs T;
    e81b_tabs T1;
    e8p_tabs_init(&T);
    if (bits == 3) e81b_tabs_init(&T1);
    float r = bits == 3 ? RZ_E8P_RVQ3_RSCALE : RZ_E8P_RVQ4_RSCALE;
    enum { CH = 64 };
    for (long v0 = 0; v0 < count; v0 += CH) {
        int nv = count - v0 < CH ? (int)(count - v0) : CH;
        float q1[CH * 8], res[CH * 8], q2[CH * 8];
        uint16_t c1[CH], c2[CH];
        uint8_t cb[CH];
        const float *xv = x + 8 * v0;
        e8p_encode_tabs(&T, xv, nv, c1, q1);
        if (bits == 2) {
            for (int v = 0; v < nv; v++) {
                if (codes) codes[v0 + v] = c1[v];
                if (xq) memcpy(xq + 8 * (v0 + v), q1 + 8 * v, 8 * sizeof(float));
            }
            continue;
        }
        for (int k = 0; k < 8 * nv; k++) res[k] = (xv[k] - q1[k]) * r;
        if (bits == 3) e81b_encode_tabs(&T1, res, nv, cb, q2);
        else e8p_encode_tabs(&T, res, nv, c2, q2);
        for (int v = 0; v < nv; v++) {
            if (codes) codes[v0 + v] = ((uint32_t)c1[v] << 16) | (bits == 3 ? cb[v] : c2[v]);
            if (xq)
                for (int i = 0; i < 8; i++) xq[8 * (v0 + v) + i] = q1[8 * v + i] + q2[8 * v + i] / r;
        }
    }
    return 0;
}

int rz_e8p_rvq_decode(int bits, uint32_t code, float *out)
{
    if (bits < 2 || bits > 4) return -1;
    if (bits == 2) {
        rz_e8p_decode(code & 0xffffu, out);
        return 0;
    }
    float q2[8], r = bits == 3 ? RZ_E8P_RVQ3_RSCALE : RZ_E8P_RVQ4_RSCALE;
    rz_e8p_decode(code >> 16, out);
    if (bits == 3) rz_e81b_decode(code & 255u, q2);
    else rz_e8p_decode(code & 0xffffu, q2);
    for (int i = 0; i < 8; i++) out[i] += q2[i] / r;
    return 0;
}
