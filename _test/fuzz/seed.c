#include <stdio.h>
#include "nssdb_write.h"
int main(int argc, char **argv) {
    static const uint32_t g[] = { 27, 100 };
    struct jit_nssdb_account a[3] = {
        { "alice", "JIT db", "/home/jit/alice", "/bin/bash", 70000, 70000, g, 2, 1700000000, 1700003600 },
        { "bob", "", "/home/jit/bob", "/bin/sh", 70001, 70001, NULL, 0, 1700000000, 1700003600 },
        { "carol", "x", "/home/jit/carol", "/bin/bash", 70005, 70005, g, 1, 1700000000, 1800000000 } };
    for (int n = 0; n <= 3 && n + 1 < argc; n++) {
        struct jit_nssdb_image img;
        FILE *f = fopen(argv[n + 1], "wb");
        if (!f || jit_nssdb_build(a, (size_t) n, 70000, 99999, 1, 0, &img)) return 1;
        fwrite(img.data, 1, img.len, f); fclose(f); jit_nssdb_image_free(&img);
    }
    return 0;
}
