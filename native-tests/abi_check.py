#!/usr/bin/python3
"""ABI agreement test: fiberws.h (parsed with libclang), libfiberws.so (nm -D) and _ffi.py (ctypes).

usage: /usr/bin/python3 native-tests/abi_check.py include/fiberws.h path/to/libfiberws.so bindings/python/fiberws/_ffi.py

Checks, and prints every disagreement (exit 1), or a one-line summary (exit 0):
  1. the fws_* functions declared in the header == the fws_* dynamic symbols of the .so == the names in
     _ffi.FUNCTIONS;
  2. each function's result and parameter types, reduced to (kind, size, signedness), agree between the header
     and _ffi.FUNCTIONS; every declaration is a prototype and none is variadic;
  3. each struct's size, field names, field offsets and field types agree between the header and the ctypes
     Structure of the same name; the opaque handles and the callback typedefs agree too.
Needs Debian's python3-clang-14 (run with /usr/bin/python3). LIBCLANG=/path/to/libclang.so overrides the library.
"""

import ctypes
import glob
import importlib.util
import os
import subprocess
import sys


def load_cindex():
    try:
        import clang.cindex as cindex
    except ImportError:
        sys.exit("abi_check: cannot import clang.cindex; install python3-clang-14 and run with /usr/bin/python3")
    candidates = [os.environ.get("LIBCLANG")]
    candidates += [
        "/usr/lib/llvm-14/lib/libclang.so.1",
        "/usr/lib/llvm-14/lib/libclang-14.so.1",
        "/usr/lib/x86_64-linux-gnu/libclang-14.so.1",
        "/usr/lib/aarch64-linux-gnu/libclang-14.so.1",
    ]
    candidates += sorted(glob.glob("/usr/lib/llvm-*/lib/libclang.so.1"), reverse=True)
    candidates += sorted(glob.glob("/usr/lib/*/libclang-*.so.1"), reverse=True)
    for path in candidates:
        if path and os.path.exists(path):
            cindex.Config.set_library_file(path)
            break
    return cindex


# ------------------------------------------------------------------------------------------------------------
# Type reduction: (kind, size, signedness) shapes that both sides can produce.

def clang_shape(cindex, t):
    K = cindex.TypeKind
    t = t.get_canonical()
    k = t.kind
    if k == K.VOID:
        return ("void",)
    if k in (K.POINTER, K.BLOCKPOINTER):
        return ("pointer", t.get_size())
    if k in (K.FLOAT, K.DOUBLE, K.LONGDOUBLE):
        return ("float", t.get_size())
    if k in (K.CHAR_S, K.CHAR_U):
        return ("char", 1)
    if k in (K.SCHAR, K.SHORT, K.INT, K.LONG, K.LONGLONG, K.INT128):
        return ("int", t.get_size(), "signed")
    if k in (K.UCHAR, K.USHORT, K.UINT, K.ULONG, K.ULONGLONG, K.UINT128, K.BOOL):
        return ("int", t.get_size(), "unsigned")
    if k == K.ENUM:
        return clang_shape(cindex, t.get_declaration().enum_type)
    if k == K.RECORD:
        return ("struct", t.get_declaration().spelling, t.get_size())
    if k == K.CONSTANTARRAY:
        return ("array", clang_shape(cindex, t.element_type), t.element_count)
    return ("unknown", k.spelling)


_SIGNED = "bhilq"
_UNSIGNED = "BHILQ"


def ctypes_shape(t):
    if t is None:
        return ("void",)
    if isinstance(t, type):
        if issubclass(t, (ctypes._Pointer, ctypes._CFuncPtr)):
            return ("pointer", ctypes.sizeof(ctypes.c_void_p))
        if issubclass(t, (ctypes.Structure, ctypes.Union)):
            return ("struct", t.__name__, ctypes.sizeof(t))
        if issubclass(t, ctypes.Array):
            return ("array", ctypes_shape(t._type_), t._length_)
        if issubclass(t, ctypes._SimpleCData):
            code = t._type_
            if code in "zZP":
                return ("pointer", ctypes.sizeof(t))
            if code == "c":
                return ("char", 1)
            if code in "fdg":
                return ("float", ctypes.sizeof(t))
            if code == "?":
                return ("int", ctypes.sizeof(t), "unsigned")
            if code in _SIGNED:
                return ("int", ctypes.sizeof(t), "signed")
            if code in _UNSIGNED:
                return ("int", ctypes.sizeof(t), "unsigned")
    return ("unknown", repr(t))


def show(shape):
    if shape[0] == "void":
        return "void"
    if shape[0] == "int":
        return "%s int%d" % (shape[2], shape[1] * 8)
    if shape[0] == "array":
        return "%s[%d]" % (show(shape[1]), shape[2])
    return "%s(%s)" % (shape[0], ", ".join(str(x) for x in shape[1:]))


# ------------------------------------------------------------------------------------------------------------
# The three sources

def read_header(cindex, path):
    """Functions {name: (ret, [(pname, shape)], problems)}, structs, opaque handles and callback typedefs."""
    index = cindex.Index.create()
    tu = index.parse(path, args=["-x", "c", "-std=c99"])
    errors = [d for d in tu.diagnostics if d.severity >= cindex.Diagnostic.Error]
    if errors:
        for d in errors:
            print("header: %s" % d)
        sys.exit("abi_check: %s does not parse" % path)

    K = cindex.CursorKind
    T = cindex.TypeKind
    main = os.path.realpath(path)
    functions, structs, declared, defined, callbacks = {}, {}, set(), set(), {}
    for c in tu.cursor.get_children():
        if c.location.file is None or os.path.realpath(c.location.file.name) != main:
            continue
        if c.kind == K.FUNCTION_DECL:
            name = c.spelling
            ft = c.type
            problems = []
            if ft.kind != T.FUNCTIONPROTO:
                problems.append("declared without a prototype (use (void) for no parameters)")
            elif ft.is_function_variadic():
                problems.append("is variadic")
            params = [(a.spelling, clang_shape(cindex, a.type)) for a in c.get_arguments()]
            functions[name] = (clang_shape(cindex, ft.get_result()), params, problems)
        elif c.kind == K.STRUCT_DECL:
            if c.is_definition():
                defined.add(c.spelling)
                fields = []
                for f in c.get_children():
                    if f.kind == K.FIELD_DECL:
                        fields.append((f.spelling, f.get_field_offsetof() // 8, clang_shape(cindex, f.type)))
                structs[c.spelling] = (c.type.get_size(), fields)
            else:
                declared.add(c.spelling)
        elif c.kind == K.TYPEDEF_DECL:
            ut = c.underlying_typedef_type.get_canonical()
            if ut.kind == T.POINTER and ut.get_pointee().kind in (T.FUNCTIONPROTO, T.FUNCTIONNOPROTO):
                proto = ut.get_pointee()
                args = [clang_shape(cindex, a) for a in proto.argument_types()] if proto.kind == T.FUNCTIONPROTO else None
                callbacks[c.spelling] = (clang_shape(cindex, proto.get_result()), args)
    handles = declared - defined
    return functions, structs, handles, callbacks


def read_symbols(path):
    try:
        out = subprocess.run(["nm", "-D", "--defined-only", path], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit("abi_check: nm -D --defined-only %s failed: %s" % (path, e))
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if not parts:
            continue
        name = parts[-1].split("@", 1)[0]  # fws_app_new@@V1.0 / fws_app_new@V1.0
        if name.startswith("fws_"):
            names.add(name)
    return names


def read_ffi(path):
    spec = importlib.util.spec_from_file_location("fiberws_ffi_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ffi_structs(ffi):
    if hasattr(ffi, "STRUCTS"):
        return {cls.__name__: cls for cls in ffi.STRUCTS}
    return {v.__name__: v for v in vars(ffi).values()
            if isinstance(v, type) and issubclass(v, ctypes.Structure) and "_fields_" in vars(v) and v._fields_}


def ffi_callbacks(ffi):
    items = getattr(ffi, "CALLBACKS", None)
    if items is None:
        items = [v for v in vars(ffi).values() if isinstance(v, type) and issubclass(v, ctypes._CFuncPtr)]
    names = {}
    for name, value in vars(ffi).items():
        if any(value is cb for cb in items):
            names[name] = value
    return names


# ------------------------------------------------------------------------------------------------------------

def main(argv):
    if len(argv) != 4:
        print(__doc__)
        return 2
    header_path, so_path, ffi_path = argv[1:]
    cindex = load_cindex()
    functions, structs, handles, callbacks = read_header(cindex, header_path)
    symbols = read_symbols(so_path)
    ffi = read_ffi(ffi_path)
    ffi_functions = {}
    problems = []
    for entry in ffi.FUNCTIONS:
        name, restype, argtypes = entry
        if name in ffi_functions:
            problems.append("_ffi.FUNCTIONS lists %s twice" % name)
        ffi_functions[name] = (restype, list(argtypes))

    # 1. names
    header_names = {n for n in functions if n.startswith("fws_")}
    ffi_names = set(ffi_functions)
    everything = header_names | symbols | ffi_names
    for name in sorted(everything):
        where = [label for label, s in (("header", header_names), ("libfiberws.so", symbols), ("_ffi.py", ffi_names)) if name in s]
        if len(where) != 3:
            missing = [label for label in ("header", "libfiberws.so", "_ffi.py") if label not in where]
            problems.append("%s: in %s but missing from %s" % (name, ", ".join(where), ", ".join(missing)))
    for name in sorted(n for n in functions if not n.startswith("fws_")):
        problems.append("header declares %s, which lacks the fws_ prefix" % name)

    # 2. signatures
    for name in sorted(header_names & ffi_names):
        ret, params, notes = functions[name]
        for note in notes:
            problems.append("%s: %s" % (name, note))
        restype, argtypes = ffi_functions[name]
        r = ctypes_shape(restype)
        if r != ret:
            problems.append("%s: result is %s in the header but %s in _ffi.py" % (name, show(ret), show(r)))
        if len(params) != len(argtypes):
            problems.append("%s: %d parameters in the header but %d in _ffi.py" % (name, len(params), len(argtypes)))
            continue
        for i, ((pname, shape), argtype) in enumerate(zip(params, argtypes)):
            s = ctypes_shape(argtype)
            if s != shape:
                problems.append("%s: parameter %d (%s) is %s in the header but %s in _ffi.py" % (name, i + 1, pname, show(shape), show(s)))

    # 3. structs, handles, callbacks
    py_structs = ffi_structs(ffi)
    for name in sorted(set(structs) | set(py_structs)):
        if name not in structs:
            problems.append("struct %s: in _ffi.py but not defined in the header" % name)
            continue
        if name not in py_structs:
            problems.append("struct %s: defined in the header but not in _ffi.py" % name)
            continue
        size, fields = structs[name]
        cls = py_structs[name]
        if ctypes.sizeof(cls) != size:
            problems.append("struct %s: sizeof is %d in the header but %d in _ffi.py" % (name, size, ctypes.sizeof(cls)))
        py_fields = [(f[0], getattr(cls, f[0]).offset, ctypes_shape(f[1])) for f in cls._fields_]
        c_names = [f[0] for f in fields]
        p_names = [f[0] for f in py_fields]
        only_c = [n for n in c_names if n not in p_names]
        only_p = [n for n in p_names if n not in c_names]
        if only_c:
            problems.append("struct %s: field(s) %s only in the header" % (name, ", ".join(only_c)))
        if only_p:
            problems.append("struct %s: field(s) %s only in _ffi.py" % (name, ", ".join(only_p)))
        common_c = [n for n in c_names if n in p_names]
        common_p = [n for n in p_names if n in c_names]
        if common_c != common_p:
            problems.append("struct %s: fields are in a different order: header %s, _ffi.py %s" % (name, common_c, common_p))
        by_name = {f[0]: f for f in py_fields}
        for fname, off, shape in fields:
            if fname not in by_name:
                continue
            _, poff, pshape = by_name[fname]
            if off != poff:
                problems.append("struct %s: field %s is at offset %d in the header but %d in _ffi.py" % (name, fname, off, poff))
            if shape != pshape:
                problems.append("struct %s: field %s is %s in the header but %s in _ffi.py" % (name, fname, show(shape), show(pshape)))

    if hasattr(ffi, "HANDLES"):
        py_handles = {cls.__name__ for cls in ffi.HANDLES}
        for name in sorted(handles ^ py_handles):
            side = "header" if name in handles else "_ffi.py"
            problems.append("handle %s: only in the %s" % (name, side))

    py_callbacks = ffi_callbacks(ffi)
    for name in sorted(set(callbacks) | set(py_callbacks)):
        if name not in callbacks or name not in py_callbacks:
            side = "header" if name in callbacks else "_ffi.py"
            problems.append("callback %s: only in the %s" % (name, side))
            continue
        ret, args = callbacks[name]
        cb = py_callbacks[name]
        if args is None:
            problems.append("callback %s: declared without a prototype" % name)
            continue
        if ctypes_shape(cb._restype_) != ret:
            problems.append("callback %s: result is %s in the header but %s in _ffi.py" % (name, show(ret), show(ctypes_shape(cb._restype_))))
        py_args = [ctypes_shape(a) for a in cb._argtypes_]
        if py_args != args:
            problems.append("callback %s: parameters are [%s] in the header but [%s] in _ffi.py"
                            % (name, ", ".join(map(show, args)), ", ".join(map(show, py_args))))

    if problems:
        for p in problems:
            print("abi_check: " + p)
        print("abi_check: FAILED, %d disagreement(s)" % len(problems))
        return 1
    print("abi_check: OK: %d functions, %d structs, %d handles, %d callbacks agree across %s, %s and %s"
          % (len(header_names), len(structs), len(handles), len(callbacks),
             os.path.basename(header_path), os.path.basename(so_path), os.path.basename(ffi_path)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
