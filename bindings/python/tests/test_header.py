"""Every function and constant of include/wsclient.h is declared in
wsclient._ffi, with matching argtypes and restype."""

import ctypes
import re

import pytest
from conftest import HEADER

from wsclient import _ffi

PROTOTYPE = re.compile(r"^(?P<ret>[A-Za-z_][\w\s\*]*?)\s*\b(?P<name>ws_\w+)\((?P<args>[^)]*)\);", re.M)
DEFINE = re.compile(r"^#define\s+(?P<name>WS_\w+|WSCLIENT_VERSION\w*)\s+(?P<value>.+?)\s*$", re.M)
HANDLER = re.compile(r"typedef\s+(?P<ret>\w+)\s*\(\*ws_message_handler\)\((?P<args>[^)]*)\);")

SCALARS = {
    "void": None,
    "bool": ctypes.c_bool,
    "int32_t": ctypes.c_int32,
    "uint8_t": ctypes.c_uint8,
    "uint16_t": ctypes.c_uint16,
    "uint32_t": ctypes.c_uint32,
    "uint64_t": ctypes.c_uint64,
    "int64_t": ctypes.c_int64,
    "uintptr_t": ctypes.c_size_t,
    "size_t": ctypes.c_size_t,
    "size_t *": ctypes.POINTER(ctypes.c_size_t),
    "const size_t *": ctypes.POINTER(ctypes.c_size_t),
    "const int32_t *": ctypes.POINTER(ctypes.c_int32),
    "int64_t *": ctypes.POINTER(ctypes.c_int64),
    "int32_t *": ctypes.POINTER(ctypes.c_int32),
    "bool *": ctypes.POINTER(ctypes.c_bool),
    "const char *": ctypes.c_char_p,
    "void *": ctypes.c_void_p,
    "ws_message_handler": _ffi.ws_message_handler,
    "ws_trace_callback": _ffi.ws_trace_callback,
}


def header_text():
    return HEADER.read_text()


def prototypes():
    return {m["name"]: (m["ret"].strip(), m["args"].strip()) for m in PROTOTYPE.finditer(header_text())}


def param_type(param):
    """The C type of a parameter declaration ("const ws_conn *conn" -> "const ws_conn *")."""
    param = " ".join(param.split())
    m = re.match(r"^(.*?)(\w+)$", param)
    ctype = m.group(1).strip()
    return re.sub(r"\s*\*", " *", ctype).replace("* *", "**").strip()


def expected_ctype(ctype, is_result):
    ctype = " ".join(ctype.split())
    if ctype in SCALARS:
        return SCALARS[ctype]
    if ctype == "const uint8_t *":
        # Buffers in: c_char_p (bytes pass without a copy); data out: an address.
        return ctypes.c_void_p if is_result else ctypes.c_char_p
    if ctype in ("uint8_t *", "char *"):
        return ctypes.c_void_p  # a buffer to write into (a ctypes array)
    m = re.match(r"^(const )?(ws_\w+) (\*+)$", ctype)
    assert m, f"unknown C type {ctype!r}: extend the test's type map"
    t = getattr(_ffi, m.group(2))
    for _ in m.group(3):
        t = ctypes.POINTER(t)
    return t


def split_args(args):
    if args in ("void", ""):
        return []
    return [param_type(p) for p in args.split(",")]


def test_header_parses():
    protos = prototypes()
    assert len(protos) > 70
    assert "ws_connect" in protos and "ws_response_body_length" in protos
    # The regex must see every "ws_...(" declaration of the header.
    declared = set(re.findall(r"\b(ws_\w+)\(", header_text()))
    assert declared == set(protos)


def test_every_header_function_is_declared():
    protos = prototypes()
    missing = sorted(set(protos) - set(_ffi.FUNCTIONS))
    extra = sorted(set(_ffi.FUNCTIONS) - set(protos))
    assert not missing, f"declare these in wsclient/_ffi.py: {missing}"
    assert not extra, f"not in include/wsclient.h: {extra}"


@pytest.mark.parametrize("name", sorted(prototypes()))
def test_signature_matches_header(name):
    ret, args = prototypes()[name]
    fn = getattr(_ffi.lib, name)
    assert fn.restype is expected_ctype(ret, is_result=True), f"{name}: restype"
    want = [expected_ctype(a, is_result=False) for a in split_args(args)]
    assert fn.argtypes is not None, f"{name}: no argtypes"
    assert list(fn.argtypes) == want, f"{name}: argtypes"


@pytest.mark.parametrize("name", sorted(prototypes()))
def test_result_codes_are_checked(name):
    """Functions returning a result code or a new handle have an errcheck."""
    ret, _ = prototypes()[name]
    fn = getattr(_ffi.lib, name)
    plain_ints = {"ws_conn_state", "ws_conn_fd", "ws_last_error_code", "ws_message_type", "ws_last_stop_value",
                  "ws_trace_event_kind"}
    if ret == "int32_t" and name not in plain_ints:
        assert fn.errcheck is not None
    if name.endswith("_new"):
        assert fn.errcheck is not None


def test_message_handler_typedef():
    m = HANDLER.search(header_text())
    assert m
    assert _ffi.ws_message_handler._restype_ is SCALARS[m["ret"]]
    want = [expected_ctype(a, is_result=False) for a in split_args(m["args"])]
    assert list(_ffi.ws_message_handler._argtypes_) == want


def test_constants_match_header():
    defines = {m["name"]: m["value"] for m in DEFINE.finditer(header_text())}
    assert len(defines) > 30
    for name, value in defines.items():
        assert hasattr(_ffi, name), f"constant {name} missing in wsclient/_ffi.py"
        expected = value.strip('"') if value.startswith('"') else int(value, 0)
        assert getattr(_ffi, name) == expected, name


def test_loaded_library_version_matches_header():
    assert _ffi.version() == _ffi.WSCLIENT_VERSION


def test_loaded_library_exports_every_function():
    assert _ffi.MISSING == []
