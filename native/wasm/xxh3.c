/*
 * XXH3-64 and XXH3-128 (seed 0, default secret) for WebAssembly SIMD128, built
 * by scripts/build-wasm.mjs. A compact reimplementation of the seed-0 paths of
 * Yann Collet's XXH3 (xxHash, BSD-2-Clause): digests equal XXH3_64bits() and
 * XXH3_128bits(), `xxhsum -H3` / `-H2` and hash-wasm's. The stripe loop uses
 * SIMD128 when compiled with -msimd128, plain C otherwise (native debug builds).
 * No libc, no allocator: one static streaming state per module instance, a
 * static staging area for callers that copy bytes in, and an input area
 * (4096-byte aligned, after all else) grown with memory.grow, so that callers
 * can read data straight into linear memory and hash it in place.
 */

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#define P32_1 0x9E3779B1U
#define P32_2 0x85EBCA77U
#define P32_3 0xC2B2AE3DU
#define P64_1 0x9E3779B185EBCA87ULL
#define P64_2 0xC2B2AE3D27D4EB4FULL
#define P64_3 0x165667B19E3779F9ULL
#define P64_4 0x85EBCA77C2B2AE63ULL
#define P64_5 0x27D4EB2F165667C5ULL
#define PMX_1 0x165667919E3779F9ULL
#define PMX_2 0x9FB21C651E98DF25ULL

#define STRIPE 64          /* bytes per stripe */
#define BLOCK_STRIPES 16   /* (secret size - STRIPE) / 8 */
#define MIDSIZE_MAX 240    /* longest input hashed without the stripe loop */
#define BUF_SIZE 256       /* streaming buffer */
#define SECRET_SIZE 192

#define INLINE static inline __attribute__((always_inline))

/* XXH3's default secret (kSecret). */
static const u8 kSecret[SECRET_SIZE] __attribute__((aligned(16))) = {
  0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
  0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
  0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
  0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
  0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
  0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
  0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
  0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
  0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
  0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
  0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
  0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
};

/* ---- scalar helpers (little-endian loads; wasm and x86 are little-endian) ---- */

INLINE u32 rd32(const u8 *p) { u32 v; __builtin_memcpy(&v, p, 4); return v; }
INLINE u64 rd64(const u8 *p) { u64 v; __builtin_memcpy(&v, p, 8); return v; }
INLINE u64 rotl64(u64 x, int r) { return (x << r) | (x >> (64 - r)); }
INLINE u32 rotl32(u32 x, int r) { return (x << r) | (x >> (32 - r)); }
INLINE void put_be64(u8 *p, u64 v) { v = __builtin_bswap64(v); __builtin_memcpy(p, &v, 8); }

typedef struct { u64 lo, hi; } u128;

/* 64x64 -> 128-bit product from 32-bit halves (wasm32 has no wide multiply). */
INLINE u128 mul128(u64 a, u64 b) {
  u64 ll = (u64)(u32)a * (u32)b, hl = (a >> 32) * (u32)b;
  u64 lh = (u64)(u32)a * (b >> 32), hh = (a >> 32) * (b >> 32);
  u64 cross = (ll >> 32) + (u32)hl + lh;
  u128 r = { (cross << 32) | (u32)ll, (hl >> 32) + (cross >> 32) + hh };
  return r;
}
INLINE u64 fold64(u64 a, u64 b) { u128 m = mul128(a, b); return m.lo ^ m.hi; }

INLINE u64 av64(u64 h) { /* XXH64's avalanche */
  h ^= h >> 33; h *= P64_2; h ^= h >> 29; h *= P64_3; return h ^ (h >> 32);
}
INLINE u64 av3(u64 h) { h ^= h >> 37; h *= PMX_1; return h ^ (h >> 32); }
INLINE u64 rrmxmx(u64 h, u64 len) {
  h ^= rotl64(h, 49) ^ rotl64(h, 24);
  h *= PMX_2; h ^= (h >> 35) + len; h *= PMX_2;
  return h ^ (h >> 28);
}
INLINE u64 mix16(const u8 *in, const u8 *s) {
  return fold64(rd64(in) ^ rd64(s), rd64(in + 8) ^ rd64(s + 8));
}
INLINE void mix32(u128 *acc, const u8 *a, const u8 *b, const u8 *s) {
  acc->lo += mix16(a, s);
  acc->lo ^= rd64(b) + rd64(b + 8);
  acc->hi += mix16(b, s + 16);
  acc->hi ^= rd64(a) + rd64(a + 8);
}

/* ---- inputs of 0..240 bytes ---- */

static u64 short64(const u8 *in, u32 len) {
  const u8 *s = kSecret;
  if (len <= 16) {
    if (len > 8) {
      u64 lo = rd64(in) ^ (rd64(s + 24) ^ rd64(s + 32));
      u64 hi = rd64(in + len - 8) ^ (rd64(s + 40) ^ rd64(s + 48));
      return av3(len + __builtin_bswap64(lo) + hi + fold64(lo, hi));
    }
    if (len >= 4) {
      u64 in64 = rd32(in + len - 4) + ((u64)rd32(in) << 32);
      return rrmxmx(in64 ^ (rd64(s + 8) ^ rd64(s + 16)), len);
    }
    if (len) {
      u32 c = ((u32)in[0] << 16) | ((u32)in[len >> 1] << 24) | in[len - 1] | (len << 8);
      return av64((u64)c ^ (u64)(rd32(s) ^ rd32(s + 4)));
    }
    return av64(rd64(s + 56) ^ rd64(s + 64));
  }
  u64 acc = (u64)len * P64_1;
  if (len <= 128) {
    if (len > 32) {
      if (len > 64) {
        if (len > 96) acc += mix16(in + 48, s + 96) + mix16(in + len - 64, s + 112);
        acc += mix16(in + 32, s + 64) + mix16(in + len - 48, s + 80);
      }
      acc += mix16(in + 16, s + 32) + mix16(in + len - 32, s + 48);
    }
    acc += mix16(in, s) + mix16(in + len - 16, s + 16);
    return av3(acc);
  }
  for (u32 i = 0; i < 8; i++) acc += mix16(in + 16 * i, s + 16 * i);
  acc = av3(acc);
  for (u32 i = 8; i < len / 16; i++) acc += mix16(in + 16 * i, s + 16 * (i - 8) + 3);
  acc += mix16(in + len - 16, s + 136 - 17);
  return av3(acc);
}

static u128 short128(const u8 *in, u32 len) {
  const u8 *s = kSecret;
  u128 h;
  if (len <= 16) {
    if (len > 8) {
      u64 lo = rd64(in), hi = rd64(in + len - 8);
      u128 m = mul128(lo ^ hi ^ (rd64(s + 32) ^ rd64(s + 40)), P64_1);
      m.lo += (u64)(len - 1) << 54;
      hi ^= rd64(s + 48) ^ rd64(s + 56);
      m.hi += hi + (u64)(u32)hi * (P32_2 - 1);
      m.lo ^= __builtin_bswap64(m.hi);
      h = mul128(m.lo, P64_2);
      h.hi = av3(h.hi + m.hi * P64_2);
      h.lo = av3(h.lo);
      return h;
    }
    if (len >= 4) {
      u64 keyed = (rd32(in) + ((u64)rd32(in + len - 4) << 32)) ^ (rd64(s + 16) ^ rd64(s + 24));
      u128 m = mul128(keyed, P64_1 + ((u64)len << 2));
      m.hi += m.lo << 1;
      m.lo ^= m.hi >> 3;
      m.lo = (m.lo ^ (m.lo >> 35)) * PMX_2;
      m.lo ^= m.lo >> 28;
      m.hi = av3(m.hi);
      return m;
    }
    if (len) {
      u32 cl = ((u32)in[0] << 16) | ((u32)in[len >> 1] << 24) | in[len - 1] | (len << 8);
      u32 ch = rotl32(__builtin_bswap32(cl), 13);
      h.lo = av64((u64)cl ^ (u64)(rd32(s) ^ rd32(s + 4)));
      h.hi = av64((u64)ch ^ (u64)(rd32(s + 8) ^ rd32(s + 12)));
      return h;
    }
    h.lo = av64(rd64(s + 64) ^ rd64(s + 72));
    h.hi = av64(rd64(s + 80) ^ rd64(s + 88));
    return h;
  }
  u128 acc = { (u64)len * P64_1, 0 };
  if (len <= 128) {
    if (len > 32) {
      if (len > 64) {
        if (len > 96) mix32(&acc, in + 48, in + len - 64, s + 96);
        mix32(&acc, in + 32, in + len - 48, s + 64);
      }
      mix32(&acc, in + 16, in + len - 32, s + 32);
    }
    mix32(&acc, in, in + len - 16, s);
  } else {
    for (u32 i = 0; i < 4; i++) mix32(&acc, in + 32 * i, in + 32 * i + 16, s + 32 * i);
    acc.lo = av3(acc.lo), acc.hi = av3(acc.hi);
    for (u32 i = 4; i < len / 32; i++) mix32(&acc, in + 32 * i, in + 32 * i + 16, s + 3 + 32 * (i - 4));
    mix32(&acc, in + len - 16, in + len - 32, s + 136 - 17 - 16);
  }
  h.lo = av3(acc.lo + acc.hi);
  h.hi = 0 - av3(acc.lo * P64_1 + acc.hi * P64_4 + (u64)len * P64_2);
  return h;
}

/* ---- the stripe loop: 8 accumulators, one 64-byte stripe at a time ---- */

#ifdef __wasm_simd128__
/*
 * a: the accumulators; d: input summed since the last flush. Each stripe adds
 * its input to the neighbouring lane (acc[i ^ 1] += in[i]); as the swap of a
 * sum is the sum of the swaps, d takes the input as it is and is swapped and
 * added to a only before a scramble or a store, saving a shuffle per vector.
 */
typedef struct { v128_t a[4], d[4]; } Acc;
INLINE void acc_load(Acc *a, const u64 *p) {
  for (int i = 0; i < 4; i++) { a->a[i] = wasm_v128_load(p + 2 * i); a->d[i] = wasm_i64x2_splat(0); }
}
INLINE void acc_flush(Acc *a) {
  for (int i = 0; i < 4; i++) {
    a->a[i] = wasm_i64x2_add(a->a[i], wasm_i64x2_shuffle(a->d[i], a->d[i], 1, 0));
    a->d[i] = wasm_i64x2_splat(0);
  }
}
INLINE void acc_store(Acc *a, u64 *p) { acc_flush(a); for (int i = 0; i < 4; i++) wasm_v128_store(p + 2 * i, a->a[i]); }

/* acc[i ^ 1] += in[i]; acc[i] += lo32(in[i] ^ key[i]) * hi32(in[i] ^ key[i]), over 64-bit lanes i. */
INLINE void acc512(Acc *a, const u8 *in, const u8 *key) {
  for (int i = 0; i < 4; i += 2) {
    v128_t d0 = wasm_v128_load(in + 16 * i), d1 = wasm_v128_load(in + 16 * i + 16);
    v128_t k0 = wasm_v128_xor(d0, wasm_v128_load(key + 16 * i));
    v128_t k1 = wasm_v128_xor(d1, wasm_v128_load(key + 16 * i + 16));
    /* the low and the high 32-bit halves of the four 64-bit lanes of k0, k1 */
    v128_t lo = wasm_i32x4_shuffle(k0, k1, 0, 2, 4, 6), hi = wasm_i32x4_shuffle(k0, k1, 1, 3, 5, 7);
    a->d[i] = wasm_i64x2_add(a->d[i], d0);
    a->d[i + 1] = wasm_i64x2_add(a->d[i + 1], d1);
    a->a[i] = wasm_i64x2_add(a->a[i], wasm_u64x2_extmul_low_u32x4(lo, hi));
    a->a[i + 1] = wasm_i64x2_add(a->a[i + 1], wasm_u64x2_extmul_high_u32x4(lo, hi));
  }
}

/* acc = (acc ^ (acc >> 47) ^ key) * P32_1 */
INLINE void scramble(Acc *a, const u8 *key) {
  const v128_t prime = wasm_i64x2_splat(P32_1);
  acc_flush(a);
  for (int i = 0; i < 4; i++) {
    v128_t x = wasm_v128_xor(a->a[i], wasm_u64x2_shr(a->a[i], 47));
    a->a[i] = wasm_i64x2_mul(wasm_v128_xor(x, wasm_v128_load(key + 16 * i)), prime);
  }
}
#else
typedef struct { u64 a[8]; } Acc;
INLINE void acc_load(Acc *a, const u64 *p) { for (int i = 0; i < 8; i++) a->a[i] = p[i]; }
INLINE void acc_store(Acc *a, u64 *p) { for (int i = 0; i < 8; i++) p[i] = a->a[i]; }
INLINE void acc512(Acc *a, const u8 *in, const u8 *key) {
  for (int i = 0; i < 8; i++) {
    u64 d = rd64(in + 8 * i), k = d ^ rd64(key + 8 * i);
    a->a[i ^ 1] += d;
    a->a[i] += (u64)(u32)k * (k >> 32);
  }
}
INLINE void scramble(Acc *a, const u8 *key) {
  for (int i = 0; i < 8; i++) a->a[i] = (a->a[i] ^ (a->a[i] >> 47) ^ rd64(key + 8 * i)) * P32_1;
}
#endif

/* The accumulators, and the stripes taken into the current block (0..15). */
typedef struct { u64 acc[8] __attribute__((aligned(16))); u32 stripes; } Lanes;

/* Takes n whole stripes into the accumulators, scrambling after each block of 16. */
static void consume(Lanes *l, const u8 *in, u32 n) {
  Acc a;
  u32 s = l->stripes;
  acc_load(&a, l->acc);
  while (n) {
    if (s == 0 && n >= BLOCK_STRIPES) {
      for (u32 j = 0; j < BLOCK_STRIPES; j++) acc512(&a, in + STRIPE * j, kSecret + 8 * j);
      in += STRIPE * BLOCK_STRIPES, n -= BLOCK_STRIPES, s = BLOCK_STRIPES;
    } else {
      for (; n && s < BLOCK_STRIPES; n--, s++, in += STRIPE) acc512(&a, in, kSecret + 8 * s);
    }
    if (s == BLOCK_STRIPES) scramble(&a, kSecret + SECRET_SIZE - STRIPE), s = 0;
  }
  acc_store(&a, l->acc);
  l->stripes = s;
}

/* Takes the final stripe (the input's last 64 bytes) with its own key. */
static void last_stripe(Lanes *l, const u8 *in) {
  Acc a;
  acc_load(&a, l->acc), acc512(&a, in, kSecret + SECRET_SIZE - STRIPE - 7), acc_store(&a, l->acc);
}

static u64 merge(const u64 *acc, const u8 *s, u64 start) {
  for (int i = 0; i < 4; i++) start += fold64(acc[2 * i] ^ rd64(s + 16 * i), acc[2 * i + 1] ^ rd64(s + 16 * i + 8));
  return av3(start);
}

/* ---- streaming state ---- */

typedef struct {
  Lanes lanes;
  u8 buf[BUF_SIZE] __attribute__((aligned(16)));
  u64 total;    /* bytes seen */
  u32 buffered; /* bytes waiting in buf[0, buffered) */
  u32 bits;     /* 64 or 128 */
} State;

static const u64 INIT_ACC[8] = { P32_3, P64_1, P64_2, P64_3, P64_4, P32_2, P64_5, P32_1 };

static void st_init(State *st, u32 bits) {
  for (int i = 0; i < 8; i++) st->lanes.acc[i] = INIT_ACC[i];
  st->lanes.stripes = st->buffered = 0;
  st->total = 0;
  st->bits = bits == 128 ? 128 : 64;
}

/*
 * Every stripe but the input's last 64 bytes (at least one byte of which is
 * still to come) is taken in order. Bytes are held in buf until more than
 * BUF_SIZE have arrived, so short inputs are still whole at the digest; once
 * a large piece is taken straight from the caller's memory, the 64 bytes
 * before its unconsumed tail are kept at the end of buf for the last stripe.
 */
static void st_update(State *st, const u8 *in, u32 len) {
  st->total += len;
  if (len <= BUF_SIZE - st->buffered) {
    __builtin_memcpy(st->buf + st->buffered, in, len);
    st->buffered += len;
    return;
  }
  if (st->buffered) {
    u32 fill = BUF_SIZE - st->buffered;
    __builtin_memcpy(st->buf + st->buffered, in, fill);
    in += fill, len -= fill;
    consume(&st->lanes, st->buf, BUF_SIZE / STRIPE);
    st->buffered = 0;
  }
  if (len > BUF_SIZE) {
    u32 n = (len - 1) / STRIPE;
    consume(&st->lanes, in, n);
    in += n * STRIPE, len -= n * STRIPE;
    __builtin_memcpy(st->buf + BUF_SIZE - STRIPE, in - STRIPE, STRIPE);
  }
  __builtin_memcpy(st->buf, in, len);
  st->buffered = len;
}

/* Writes the digest, canonical (big-endian; XXH3-128 high half first), to out. */
static void st_digest(const State *st, u8 *out) {
  u64 lo, hi = 0;
  if (st->total <= MIDSIZE_MAX) {
    if (st->bits == 64) {
      lo = short64(st->buf, st->buffered);
    } else {
      u128 h = short128(st->buf, st->buffered);
      lo = h.lo, hi = h.hi;
    }
  } else {
    Lanes l = st->lanes;
    u8 tail[STRIPE];
    const u8 *last = tail;
    u32 b = st->buffered;
    if (b >= STRIPE) {
      consume(&l, st->buf, (b - 1) / STRIPE);
      last = st->buf + b - STRIPE;
    } else {
      __builtin_memcpy(tail, st->buf + BUF_SIZE - (STRIPE - b), STRIPE - b);
      __builtin_memcpy(tail + STRIPE - b, st->buf, b);
    }
    last_stripe(&l, last);
    lo = merge(l.acc, kSecret + 11, st->total * P64_1);
    if (st->bits == 128) hi = merge(l.acc, kSecret + SECRET_SIZE - STRIPE - 11, ~(st->total * P64_2));
  }
  if (st->bits == 64) put_be64(out, lo);
  else put_be64(out, hi), put_be64(out + 8, lo);
}

/* ---- WebAssembly exports ---- */
#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(#name))) name

#define STAGE_SIZE 65536
#define INPUT_ALIGN 4096u
static State state;
static u8 output[16];
static u8 stage[STAGE_SIZE] __attribute__((aligned(INPUT_ALIGN)));
extern u8 __heap_base;
/* First byte of the input area: the end of static data and stack, rounded up. */
static u32 input_base(void) { return ((u32)(unsigned long)&__heap_base + INPUT_ALIGN - 1) & ~(INPUT_ALIGN - 1); }
/* Address of the input area. */
u32 EXPORT(xxh_input)(void) { return input_base(); }
/* Grows memory until the input area holds at least `bytes`; returns its capacity, or 0 if memory cannot grow. */
u32 EXPORT(xxh_reserve)(u32 bytes) {
  u64 base = input_base(), have = (u64)__builtin_wasm_memory_size(0) << 16, need = base + bytes;
  if (need > have) {
    u64 pages = (need - have + 65535) >> 16;
    if (__builtin_wasm_memory_grow(0, (unsigned long)pages) == (unsigned long)-1) return 0;
    have += pages << 16;
  }
  return (u32)(have - base);
}
/* Address and size of the staging area for callers that copy bytes in. */
u32 EXPORT(xxh_stage)(void) { return (u32)(unsigned long)stage; }
u32 EXPORT(xxh_stage_size)(void) { return STAGE_SIZE; }
/* Starts a digest: bits = 64 for xxh3, 128 for XXH3-128. */
void EXPORT(xxh_init)(u32 bits) { st_init(&state, bits); }
/* Hashes len bytes at address ptr of linear memory. */
void EXPORT(xxh_update)(const u8 *ptr, u32 len) { st_update(&state, ptr, len); }
/* Writes the digest (8 or 16 bytes, canonical) and returns its address; the state stays usable. */
u32 EXPORT(xxh_digest)(void) { st_digest(&state, output); return (u32)(unsigned long)output; }
#endif
