/* TEST-ONLY shim for Wine 8, never shipped: Rust's standard library (1.78+) imports ProcessPrng
 * from bcryptprimitives.dll, which Wine 8 lacks, so a Rust program exits with status 53 before
 * main. This DLL, placed next to the .exe under test, answers it with RtlGenRandom (advapi32's
 * SystemFunction036). Built and placed by tests/release/windows.test.mjs. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
