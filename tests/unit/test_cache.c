/*
 * Unit tests for store/cache.c: copies out, the generation rule that keeps
 * a stale value out, the size bound, drop and clear.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/cache.h"

static int
int_copy(void *dst, const void *src)
{
    *(int *)dst = *(const int *)src;
    return 1;
}

static int *
boxed(int v)
{
    int *p = malloc(sizeof(*p));

    assert_non_null(p);
    *p = v;
    return p;
}

static void
test_put_get_drop(void **state)
{
    struct sn_cache c;
    unsigned long gen;
    int v = 0;

    (void)state;
    sn_cache_init(&c, 0, int_copy, free);
    assert_int_equal(sn_cache_get(&c, "a", &v), 0);
    gen = sn_cache_gen(&c);
    sn_cache_put(&c, "a", boxed(1), gen);
    assert_int_equal(sn_cache_get(&c, "a", &v), 1);
    assert_int_equal(v, 1);
    /* Present: a second put keeps the first value. */
    sn_cache_put(&c, "a", boxed(2), sn_cache_gen(&c));
    assert_int_equal(sn_cache_get(&c, "a", &v), 1);
    assert_int_equal(v, 1);
    sn_cache_drop(&c, "a");
    assert_int_equal(sn_cache_get(&c, "a", &v), 0);
    /* A value read before a drop (any id) is not stored. */
    gen = sn_cache_gen(&c);
    sn_cache_drop(&c, "zzz");
    sn_cache_put(&c, "a", boxed(3), gen);
    assert_int_equal(sn_cache_get(&c, "a", &v), 0);
    sn_cache_cleanup(&c);
}

static void
test_clear_and_bound(void **state)
{
    struct sn_cache c;
    unsigned long gen;
    char id[16], longid[66];
    int i, v = 0, hits = 0;

    (void)state;
    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    sn_cache_init(&c, 3, int_copy, free);
    for (i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "k%d", i);
        sn_cache_put(&c, id, boxed(i), sn_cache_gen(&c));
    }
    for (i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "k%d", i);
        hits += sn_cache_get(&c, id, &v);
    }
    assert_int_equal(hits, 3);
    /* Clear empties it and, like a drop, fences out older reads. */
    gen = sn_cache_gen(&c);
    sn_cache_clear(&c);
    assert_int_equal(sn_cache_get(&c, "k0", &v), 0);
    sn_cache_put(&c, "k0", boxed(7), gen);
    assert_int_equal(sn_cache_get(&c, "k0", &v), 0);
    sn_cache_put(&c, "k0", boxed(8), sn_cache_gen(&c));
    assert_int_equal(sn_cache_get(&c, "k0", &v), 1);
    assert_int_equal(v, 8);
    /* Full: refused (and reported), then cleared. */
    sn_cache_put(&c, "k1", boxed(1), sn_cache_gen(&c));
    sn_cache_put(&c, "k2", boxed(2), sn_cache_gen(&c));
    assert_int_equal(sn_cache_full(&c), 1);
    assert_int_equal(sn_cache_put(&c, "k3", boxed(3), sn_cache_gen(&c)), 0);
    sn_cache_clear(&c);
    assert_int_equal(sn_cache_full(&c), 0);
    /* Ids longer than 64 characters are never stored. */
    assert_int_equal(sn_cache_put(&c, longid, boxed(9), sn_cache_gen(&c)), 0);
    assert_int_equal(sn_cache_get(&c, longid, &v), 0);
    longid[64] = '\0';
    assert_int_equal(sn_cache_put(&c, longid, boxed(10), sn_cache_gen(&c)), 1);
    assert_int_equal(sn_cache_get(&c, longid, &v), 1);
    assert_int_equal(v, 10);
    sn_cache_cleanup(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_drop),
        cmocka_unit_test(test_clear_and_bound),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
