/// A small valid GGUF file and a catalogue of named malformations of it, each of which a
/// conforming reader must reject. Used by the tests here and usable by anyone testing another
/// GGUF reader (the `expectedMessageFragment`s are Lockstep's own wording).
public enum GGUFMalformedCorpus {
    /// One malformed file.
    public struct Case: Sendable {
        /// Stable kebab-case identifier, e.g. `"offset-past-end"`.
        public let id: String
        /// What was changed relative to `baseFile()`, in words.
        public let mutation: String
        /// The complete malformed file.
        public let bytes: [UInt8]
        /// A substring of the `GGUFError.message` that `GGUFFile` reports for this file.
        public let expectedMessageFragment: String

        public init(id: String, mutation: String, bytes: [UInt8], expectedMessageFragment: String) {
            self.id = id
            self.mutation = mutation
            self.bytes = bytes
            self.expectedMessageFragment = expectedMessageFragment
        }
    }

    /// Tensor names and shapes of the base file (all in file order).
    static let baseTensors: [(name: String, dims: [Int], type: GGMLType)] = [
        ("t.f32", [4, 2], .f32),      // 32 bytes at offset 0
        ("t.q8_0", [32, 2], .q8_0),   // 68 bytes at offset 32 (padded to 96)
        ("t.q4_1", [64, 4], .q4_1),   // 160 bytes at offset 128, ends the file exactly
    ]

    /// Deterministic, well-formed tensor data for the base file.
    static func baseTensorData(_ type: GGMLType, elements: Int) -> [UInt8] {
        var b = GGUFByteBuffer()
        let blocks = elements / type.blockElements
        switch type {
        case .f32:
            for i in 0..<elements { b.u32((Float(i) * 0.25 - 1).bitPattern) }
        case .f16, .bf16:
            for i in 0..<elements { b.u16(UInt16(truncatingIfNeeded: 0x3C00 + i)) }
        case .q8_0:
            for k in 0..<blocks {
                b.u16(0x3C00)  // d = 1.0
                for i in 0..<32 { b.u8(UInt8(bitPattern: Int8(truncatingIfNeeded: i - 16 + k))) }
            }
        case .q4_0:
            for k in 0..<blocks {
                b.u16(0x3800)  // d = 0.5
                for i in 0..<16 { b.u8(UInt8(truncatingIfNeeded: i * 17 + k)) }
            }
        case .q4_1:
            for k in 0..<blocks {
                b.u16(0x3C00)  // d = 1.0
                b.u16(0xBC00)  // m = -1.0
                for i in 0..<16 { b.u8(UInt8(truncatingIfNeeded: i * 17 + k)) }
            }
        }
        return b.bytes
    }

    /// The writer that produces the base file.
    static func baseWriter() -> GGUFWriter {
        var w = GGUFWriter(version: 3, alignment: 32)
        w.set("general.architecture", .string("llama"))
        w.set("general.alignment", .uint32(32))
        w.set("general.name", .string("lockstep malformed-corpus base"))
        w.set("test.uint8", .uint8(200))
        w.set("test.int8", .int8(-5))
        w.set("test.uint16", .uint16(60000))
        w.set("test.int16", .int16(-300))
        w.set("test.uint32", .uint32(4_000_000_000))
        w.set("test.int32", .int32(-70000))
        w.set("test.uint64", .uint64(1 << 40))
        w.set("test.int64", .int64(-(1 << 40)))
        w.set("test.float32", .float32(1.5))
        w.set("test.float64", .float64(-2.25))
        w.set("test.bool", .bool(true))
        w.set("test.string", .string("héllo ✓"))
        w.set("test.strings", .array(.string(["alpha", "βeta", "", "<|im_end|>"])))
        w.set("test.int32s", .array(.int32([1, -2, 3])))
        w.set("test.float32s", .array(.float32([0.5, -1])))
        w.set("test.bools", .array(.bool([true, false])))
        w.set("test.nested", .array(.nested([.array(.uint16([1, 2])), .array(.uint16([3]))])))
        for t in baseTensors {
            let elements = t.dims.reduce(1, *)
            w.addTensor(name: t.name, dimensions: t.dims, type: t.type, data: baseTensorData(t.type, elements: elements))
        }
        return w
    }

    /// A small valid GGUF v3 file (alignment 32, given explicitly as `general.alignment`): 20
    /// metadata keys covering every value type, a string array, typed arrays and a nested array,
    /// and three tensors — `t.f32` (F32 [4, 2]), `t.q8_0` (Q8_0 [32, 2]) and `t.q4_1`
    /// (Q4_1 [64, 4]). The last tensor's data ends exactly at the end of the file, so every
    /// proper prefix of the file is malformed.
    public static func baseFile() -> [UInt8] {
        baseWriter().serialize()
    }

    /// Named malformations of `baseFile()`, each of which `GGUFFile` must reject with a message
    /// containing the case's `expectedMessageFragment`.
    public static func cases() -> [Case] {
        let base = baseWriter().raw
        var out: [Case] = []

        func add(_ id: String, _ mutation: String, _ fragment: String, _ change: (inout RawGGUF) -> Void) {
            var raw = base
            change(&raw)
            out.append(Case(id: id, mutation: mutation, bytes: raw.encoded(), expectedMessageFragment: fragment))
        }
        func addBytes(_ id: String, _ mutation: String, _ fragment: String, _ bytes: [UInt8]) {
            out.append(Case(id: id, mutation: mutation, bytes: bytes, expectedMessageFragment: fragment))
        }
        func kv(_ raw: RawGGUF, _ key: String) -> Int {
            raw.kvs.firstIndex { $0.key == Array(key.utf8) }!
        }
        func setValue(_ raw: inout RawGGUF, _ key: String, _ value: GGUFValue) {
            raw.kvs[kv(raw, key)] = RawGGUF.KV(key, value)
        }
        func setTypedValue(_ raw: inout RawGGUF, _ key: String, _ build: (inout GGUFByteBuffer) -> Void) {
            var b = GGUFByteBuffer()
            build(&b)
            raw.kvs[kv(raw, key)].typedValue = b.bytes
        }
        let typeArray = GGUFValueType.array.rawValue, typeString = GGUFValueType.string.rawValue

        // Header.
        add("wrong-magic", "magic \"GGUF\" replaced by \"GGUX\"", "not a GGUF file") { $0.magic = Array("GGUX".utf8) }
        addBytes("empty-file", "zero bytes", "too short for a GGUF header", [])
        addBytes("truncated-header", "only the first 10 bytes", "unexpected end of file", Array(base.encoded().prefix(10)))
        add("version-0", "version 0", "unsupported GGUF version 0") { $0.version = 0 }
        add("version-1", "version 1 (32-bit counts)", "GGUF version 1 is not supported") { $0.version = 1 }
        add("version-4", "version 4", "unsupported GGUF version 4") { $0.version = 4 }
        add("version-big-endian", "version 3 stored big-endian", "big-endian GGUF files are not supported") {
            $0.version = UInt32(3).byteSwapped
        }
        add("absurd-tensor-count", "tensor_count = 2^64 - 1", "18446744073709551615 tensor infos cannot fit") {
            $0.tensorCount = .max
        }
        add("absurd-kv-count", "kv_count = 2^40", "1099511627776 key/value pairs cannot fit") { $0.kvCount = 1 << 40 }
        do {
            let remaining = UInt64(base.encoded().count - 24)
            add("counts-jointly-too-large", "kv_count and tensor_count each fit the file alone but not together",
                "key/value pairs and") {
                $0.kvCount = remaining / 13
                $0.tensorCount = remaining / 32
            }
        }
        add("kv-count-too-small", "kv_count = 0, so the first key/value pair is read as a tensor info",
            "n_dims 8 is not in 1...4") { $0.kvCount = 0 }

        // Strings.
        add("absurd-string-length", "first key's length = 2^64 - 1", "string length 18446744073709551615 exceeds") {
            $0.kvs[0].keyLength = .max
        }
        add("string-length-past-end", "test.string's length = 2^20", "string length 1048576 exceeds") { raw in
            setTypedValue(&raw, "test.string") { $0.u32(typeString); $0.rawString(Array("héllo ✓".utf8), length: 1 << 20) }
        }
        add("empty-key", "key of test.uint8 is empty", "empty key") { $0.kvs[kv($0, "test.uint8")].key = [] }
        add("duplicate-key", "general.name renamed to general.architecture", "duplicate key 'general.architecture'") {
            $0.kvs[kv($0, "general.name")].key = Array("general.architecture".utf8)
        }
        add("invalid-utf8-key", "key test.uint8 contains byte 0xFF", "is not valid UTF-8") {
            $0.kvs[kv($0, "test.uint8")].key = Array("test.".utf8) + [0xFF] + Array("int8".utf8)
        }
        add("invalid-utf8-string", "test.string contains the unpaired lead byte 0xC3", "is not valid UTF-8") { raw in
            setTypedValue(&raw, "test.string") { $0.u32(typeString); $0.rawString([0x68, 0xC3, 0x28, 0x6C]) }
        }
        add("overlong-utf8-in-string-array", "test.strings[1] is the overlong encoding C0 AF", "is not valid UTF-8") { raw in
            setTypedValue(&raw, "test.strings") {
                $0.u32(typeArray); $0.u32(typeString); $0.u64(2)
                $0.string("ok"); $0.rawString([0xC0, 0xAF])
            }
        }
        add("surrogate-utf8-string", "test.string encodes the surrogate U+D800", "is not valid UTF-8") { raw in
            setTypedValue(&raw, "test.string") { $0.u32(typeString); $0.rawString([0xED, 0xA0, 0x80]) }
        }

        // Value types and arrays.
        add("unknown-value-type", "test.uint8's type = 13", "unknown metadata value type 13") { raw in
            raw.kvs[kv(raw, "test.uint8")].typedValue = [13, 0, 0, 0, 200]
        }
        add("absurd-value-type", "test.uint32's type = 0xFFFFFFFF", "unknown metadata value type 4294967295") { raw in
            raw.kvs[kv(raw, "test.uint32")].typedValue = [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]
        }
        add("unknown-array-element-type", "test.int32s element type = 99", "unknown array element type 99") { raw in
            setTypedValue(&raw, "test.int32s") { $0.u32(typeArray); $0.u32(99); $0.u64(1); $0.u32(1) }
        }
        add("absurd-array-count", "test.strings count = 2^62", "array count 4611686018427387904 of string cannot fit") { raw in
            setTypedValue(&raw, "test.strings") { $0.u32(typeArray); $0.u32(typeString); $0.u64(1 << 62); $0.string("alpha") }
        }
        add("absurd-byte-array-count", "test.int32s becomes a uint8 array of 2^63 elements",
            "array count 9223372036854775808 of uint8 cannot fit") { raw in
            setTypedValue(&raw, "test.int32s") { $0.u32(typeArray); $0.u32(GGUFValueType.uint8.rawValue); $0.u64(1 << 63) }
        }
        add("absurd-nested-array-count", "test.nested's inner array count = 2^61", "array count 2305843009213693952 of uint16") { raw in
            setTypedValue(&raw, "test.nested") {
                $0.u32(typeArray); $0.u32(typeArray); $0.u64(1)
                $0.u32(GGUFValueType.uint16.rawValue); $0.u64(1 << 61)
            }
        }
        add("nested-too-deep", "test.nested nested 5 levels deep", "arrays nested deeper than 4 levels") { raw in
            var v = GGUFValue.array(.uint8([1]))
            for _ in 0..<4 { v = .array(.nested([v])) }
            var b = GGUFByteBuffer()
            b.typedValue(v)
            raw.kvs[kv(raw, "test.nested")].typedValue = b.bytes
        }
        add("too-many-nested-arrays", "test.nested holds 65537 empty uint8 arrays, one more than the limit on nested arrays",
            "array of 65537 arrays: with the 0 nested arrays before it, the file's metadata would hold more than 65536") { raw in
            setTypedValue(&raw, "test.nested") {
                $0.u32(typeArray); $0.u32(typeArray); $0.u64(UInt64(GGUFLimits.maxNestedArrays + 1))
                for _ in 0 ... GGUFLimits.maxNestedArrays { $0.u32(GGUFValueType.uint8.rawValue); $0.u64(0) }
            }
        }
        add("invalid-bool", "test.bool = 2", "invalid bool value 2") { raw in
            setTypedValue(&raw, "test.bool") { $0.u32(GGUFValueType.bool.rawValue); $0.u8(2) }
        }
        add("control-characters-in-key", "test.bool renamed to \"test.\\u{1B}[2Jbool\" (an escape sequence) and set to 2",
            "invalid bool value 2") { raw in
            raw.kvs[kv(raw, "test.bool")].key = Array("test.\u{1B}[2Jbool".utf8)
            setTypedValue(&raw, "test.\u{1B}[2Jbool") { $0.u32(GGUFValueType.bool.rawValue); $0.u8(2) }
        }
        add("invalid-bool-in-array", "test.bools = [1, 7]", "invalid bool value 7") { raw in
            setTypedValue(&raw, "test.bools") { $0.u32(typeArray); $0.u32(GGUFValueType.bool.rawValue); $0.u64(2); $0.u8(1); $0.u8(7) }
        }

        // Alignment.
        add("bad-alignment-value", "general.alignment = 24", "alignment 24 is not a power of two") {
            setValue(&$0, "general.alignment", .uint32(24))
        }
        add("alignment-zero", "general.alignment = 0", "alignment 0 is not a power of two") {
            setValue(&$0, "general.alignment", .uint32(0))
        }
        add("alignment-too-large", "general.alignment = 131072", "alignment 131072 is not a power of two in 1...65536") {
            setValue(&$0, "general.alignment", .uint32(131072))
        }
        add("alignment-wrong-type", "general.alignment stored as int32 32", "general.alignment must be uint32, found int32") {
            setValue(&$0, "general.alignment", .int32(32))
        }
        add("alignment-wrong-type-uint64", "general.alignment stored as uint64 32", "general.alignment must be uint32, found uint64") {
            setValue(&$0, "general.alignment", .uint64(32))
        }
        add("data-section-past-end", "no tensors, general.alignment = 65536: the data section would start past the end",
            "starts at byte 65536") { raw in
            setValue(&raw, "general.alignment", .uint32(65536))
            raw.tensors = []
            raw.data = []
        }

        // Tensor infos.
        add("unknown-tensor-type", "t.f32's type = 200", "unknown tensor type 200") { $0.tensors[0].type = 200 }
        add("unsupported-tensor-type", "t.q4_1's type = 12 (Q4_K)", "unsupported tensor type 12 (Q4_K)") { $0.tensors[2].type = 12 }
        add("zero-dim", "t.f32's dimensions = [4, 0]", "dimension 1 is 0") { $0.tensors[0].dims = [4, 0] }
        add("zero-n-dims", "t.f32 has no dimensions", "n_dims 0 is not in 1...4") { $0.tensors[0].dims = [] }
        add("too-many-dims", "t.f32's dimensions = [4, 2, 1, 1, 1]", "n_dims 5 is not in 1...4") {
            $0.tensors[0].dims = [4, 2, 1, 1, 1]
        }
        add("absurd-n-dims", "t.f32's n_dims = 2^32 - 1", "n_dims 4294967295 is not in 1...4") { $0.tensors[0].nDims = .max }
        add("dims-overflow", "t.f32's dimensions = [2^32, 2^32]", "element count of dimensions [4294967296, 4294967296] overflows") {
            $0.tensors[0].dims = [1 << 32, 1 << 32]
        }
        add("dim-too-large", "t.f32's dimensions = [2^63]", "dimension 0 is 9223372036854775808, too large") {
            $0.tensors[0].dims = [1 << 63]
        }
        add("byte-count-overflow", "t.f32's dimensions = [2^62]: the element count fits but the byte count does not",
            "byte count of 4611686018427387904 F32 elements overflows") { $0.tensors[0].dims = [1 << 62] }
        add("dim0-not-multiple-of-block", "t.q8_0's dimensions = [48, 2]", "is not a multiple of the Q8_0 block size 32") {
            $0.tensors[1].dims = [48, 2]
        }
        add("dim0-not-multiple-of-block-q4_1", "t.q4_1's dimensions = [16, 16]", "is not a multiple of the Q4_1 block size 32") {
            $0.tensors[2].dims = [16, 16]
        }
        add("empty-tensor-name", "t.f32's name is empty", "empty tensor name") { $0.tensors[0].name = [] }
        add("tensor-name-too-long", "t.f32's name is 65 bytes", "longer than 64 bytes") {
            $0.tensors[0].name = Array(repeating: UInt8(ascii: "x"), count: 65)
        }
        add("invalid-utf8-tensor-name", "t.f32's name contains byte 0xFE", "is not valid UTF-8") {
            $0.tensors[0].name = Array("t.".utf8) + [0xFE]
        }
        add("absurd-tensor-name-length", "t.q8_0's name length = 2^63", "string length 9223372036854775808 exceeds") {
            $0.tensors[1].nameLength = 1 << 63
        }
        add("duplicate-tensor", "t.q8_0 renamed to t.f32", "duplicate tensor name 't.f32'") {
            $0.tensors[1].name = Array("t.f32".utf8)
        }
        add("misaligned-offset", "t.q8_0's offset = 33", "33 is not a multiple of the alignment 32") { $0.tensors[1].offset = 33 }
        add("control-characters-in-tensor-name", "t.q8_0 renamed to \"t.\\u{1B}[2J\" (an escape sequence) and its offset = 33",
            "33 is not a multiple of the alignment 32") {
            $0.tensors[1].name = Array("t.\u{1B}[2J".utf8)
            $0.tensors[1].offset = 33
        }
        add("offset-past-end", "t.q4_1's offset = 2^40", "1099511627776 is past the end of the file") {
            $0.tensors[2].offset = 1 << 40
        }
        add("offset-near-uint64-max", "t.q4_1's offset = 2^64 - 32", "18446744073709551584 is past the end of the file") {
            $0.tensors[2].offset = UInt64.max - 31
        }
        add("data-past-end", "t.q4_1's offset = 160: its 160 bytes run past the end", "extend past the end of the file") {
            $0.tensors[2].offset = 160
        }
        add("truncated-data", "the last byte of t.q4_1's data removed", "extend past the end of the file") {
            $0.data.removeLast()
        }
        add("overlapping-tensors", "t.q8_0's offset = 0, the same as t.f32's", "overlaps tensor 't.f32'") { $0.tensors[1].offset = 0 }
        add("overlapping-tensors-partial", "t.q4_1's offset = 96, inside t.q8_0's data [32, 100)", "overlaps tensor 't.q8_0'") {
            $0.tensors[2].offset = 96
        }
        return out
    }
}
