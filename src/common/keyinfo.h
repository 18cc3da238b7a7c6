/*
 * keyinfo: plain facts about a generated key and the module holding it,
 * shared by the hsm, store and server layers (no PKCS#11 types here).
 */
#ifndef SN_KEYINFO_H
#define SN_KEYINFO_H

struct sn_hsm_info {
    char manufacturer[33];
    char model[17];
    char serial[17];
    char label[33];
};

/* The PKCS#11 attributes that show a key was made on-token and stays. */
struct sn_key_facts {
    int local;
    int never_extractable;
    int always_sensitive;
    int extractable;
    int sensitive;
};

#endif
