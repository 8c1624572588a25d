/* TEST-ONLY (tests/release/windows.test.mjs): formats message ID with ARG from a message file,
 * as Event Viewer does for an event of a registered source, and prints it in brackets.
 * Usage: formatmessage.exe MESSAGE-FILE ID ARG */
#include <windows.h>
#include <stdio.h>

int wmain(int argc, wchar_t **argv) {
    if (argc != 4) return 1;
    HMODULE m = LoadLibraryExW(argv[1], NULL, LOAD_LIBRARY_AS_DATAFILE);
    if (!m) { printf("load failed %lu\n", GetLastError()); return 2; }
    DWORD_PTR args[] = { (DWORD_PTR)argv[3] };
    wchar_t out[1024];
    DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_HMODULE | FORMAT_MESSAGE_ARGUMENT_ARRAY, m,
                             (DWORD)_wtoi(argv[2]), 0x409, out, 1024, (va_list *)args);
    if (!n) { printf("format failed %lu\n", GetLastError()); return 3; }
    fwprintf(stdout, L"[%ls]", out);
    return 0;
}
