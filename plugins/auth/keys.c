/* Secrets at rest and in transit: subkeys derived from the JWT secret,
 * keyed hashes (OTP codes and refresh tokens are never stored in clear),
 * random tokens, and the secretbox that keeps codes out of queued jobs. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth.h"

/* crypto_kdf contexts are exactly 8 characters. */
#define KDF_CONTEXT "krauth01"

enum { SUBKEY_OTP = 1, SUBKEY_REFRESH = 2, SUBKEY_BOX = 3 };

static void master_of(const unsigned char *secret, size_t len, unsigned char master[crypto_kdf_KEYBYTES])
{
    /* The secret may be any length >= 32; hashing it gives the fixed-size
     * master key crypto_kdf wants. */
    crypto_generichash(master, crypto_kdf_KEYBYTES, secret, len, NULL, 0);
}

int auth_keys_derive(auth_state *st, const unsigned char *secret, size_t len, const unsigned char *box_secret,
                     size_t box_len)
{
    unsigned char master[crypto_kdf_KEYBYTES];
    master_of(secret, len, master);
    int rc = crypto_kdf_derive_from_key(st->otp_key, sizeof(st->otp_key), SUBKEY_OTP, KDF_CONTEXT, master) |
             crypto_kdf_derive_from_key(st->refresh_key, sizeof(st->refresh_key), SUBKEY_REFRESH, KDF_CONTEXT, master);
    if (box_secret != NULL)
        master_of(box_secret, box_len, master);
    rc |= crypto_kdf_derive_from_key(st->box_key, sizeof(st->box_key), SUBKEY_BOX, KDF_CONTEXT, master);
    sodium_memzero(master, sizeof(master));
    return rc == 0 ? 0 : -1;
}

void auth_keyed_hash_hex(const unsigned char key[AUTH_KEY_BYTES], const char *a, const char *b,
                         char out[AUTH_HASH_HEX + 1])
{
    unsigned char h[AUTH_HASH_HEX / 2];
    crypto_generichash_state s;
    crypto_generichash_init(&s, key, AUTH_KEY_BYTES, sizeof(h));
    crypto_generichash_update(&s, (const unsigned char *)a, strlen(a));
    crypto_generichash_update(&s, (const unsigned char *)":", 1);
    crypto_generichash_update(&s, (const unsigned char *)b, strlen(b));
    crypto_generichash_final(&s, h, sizeof(h));
    sodium_bin2hex(out, AUTH_HASH_HEX + 1, h, sizeof(h));
}

int auth_hash_equal(const char *a, const char *b)
{
    size_t n = strlen(a);
    return n == strlen(b) && sodium_memcmp(a, b, n) == 0;
}

void auth_random_token(size_t n, char *out, size_t outlen)
{
    unsigned char buf[64];
    randombytes_buf(buf, n);
    sodium_bin2base64(out, outlen, buf, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(buf, sizeof(buf));
}

char *auth_box_seal(const auth_state *st, const char *msg)
{
    size_t mlen = strlen(msg);
    size_t blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + mlen;
    unsigned char *box = malloc(blen);
    if (box == NULL)
        return NULL;
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const unsigned char *)msg, mlen, box, st->box_key);
    size_t olen = sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(olen);
    if (out != NULL)
        sodium_bin2base64(out, olen, box, blen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    free(box);
    return out;
}

char *auth_box_open(const auth_state *st, const char *sealed)
{
    size_t slen = strlen(sealed);
    unsigned char *box = malloc(slen + 1);
    if (box == NULL)
        return NULL;
    size_t blen;
    char *msg = NULL;
    if (sodium_base642bin(box, slen, sealed, slen, NULL, &blen, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
        blen >= crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        size_t mlen = blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
        msg = malloc(mlen + 1);
        if (msg != NULL && crypto_secretbox_open_easy((unsigned char *)msg, box + crypto_secretbox_NONCEBYTES,
                                                      blen - crypto_secretbox_NONCEBYTES, box, st->box_key) != 0) {
            free(msg);
            msg = NULL;
        } else if (msg != NULL) {
            msg[mlen] = '\0';
        }
    }
    free(box);
    return msg;
}
