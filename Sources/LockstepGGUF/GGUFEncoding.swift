/// A growable little-endian byte buffer.
struct GGUFByteBuffer {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    /// A GGUF string: u64 byte length, then the UTF-8 bytes.
    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            u64(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// Raw string bytes with an explicit (possibly lying) length, for malformed files.
    mutating func rawString(_ utf8: [UInt8], length: UInt64? = nil) {
        u64(length ?? UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// Appends zero bytes until the length is a multiple of `alignment`.
    mutating func pad(to alignment: Int) {
        let rem = bytes.count % alignment
        if rem != 0 { bytes.append(contentsOf: repeatElement(0, count: alignment - rem)) }
    }

    /// A metadata value: type number, then the payload.
    mutating func typedValue(_ v: GGUFValue) {
        u32(v.valueType.rawValue)
        payload(v)
    }

    /// The payload of a metadata value (no type number).
    mutating func payload(_ v: GGUFValue) {
        switch v {
        case .uint8(let x): u8(x)
        case .int8(let x): u8(UInt8(bitPattern: x))
        case .uint16(let x): u16(x)
        case .int16(let x): u16(UInt16(bitPattern: x))
        case .uint32(let x): u32(x)
        case .int32(let x): u32(UInt32(bitPattern: x))
        case .uint64(let x): u64(x)
        case .int64(let x): u64(UInt64(bitPattern: x))
        case .float32(let x): u32(x.bitPattern)
        case .float64(let x): u64(x.bitPattern)
        case .bool(let x): u8(x ? 1 : 0)
        case .string(let s): string(s)
        case .array(let a): array(a)
        }
    }

    /// An array body: element type, count, elements.
    mutating func array(_ a: GGUFArray) {
        u32(a.elementType.rawValue)
        u64(UInt64(a.count))
        switch a {
        case .uint8(let xs): bytes.append(contentsOf: xs)
        case .int8(let xs): for x in xs { u8(UInt8(bitPattern: x)) }
        case .uint16(let xs): for x in xs { u16(x) }
        case .int16(let xs): for x in xs { u16(UInt16(bitPattern: x)) }
        case .uint32(let xs): for x in xs { u32(x) }
        case .int32(let xs): for x in xs { u32(UInt32(bitPattern: x)) }
        case .uint64(let xs): for x in xs { u64(x) }
        case .int64(let xs): for x in xs { u64(UInt64(bitPattern: x)) }
        case .float32(let xs): for x in xs { u32(x.bitPattern) }
        case .float64(let xs): for x in xs { u64(x.bitPattern) }
        case .bool(let xs): for x in xs { u8(x ? 1 : 0) }
        case .string(let xs): for x in xs { string(x) }
        case .nested(let xs):
            for x in xs {
                guard case .array(let inner) = x else {
                    preconditionFailure("GGUFArray.nested elements must be .array values, found \(x.typeName)")
                }
                array(inner)
            }
        }
    }
}

/// A GGUF file described field by field, with every count and number settable to any value —
/// the writer's serialiser, and the tool that builds the malformed corpus.
struct RawGGUF {
    struct KV {
        var key: [UInt8]
        /// Overrides the key's length field.
        var keyLength: UInt64? = nil
        /// Type number followed by the payload.
        var typedValue: [UInt8]

        init(_ key: String, _ value: GGUFValue) {
            self.key = Array(key.utf8)
            var b = GGUFByteBuffer()
            b.typedValue(value)
            self.typedValue = b.bytes
        }

        init(rawKey: [UInt8], keyLength: UInt64? = nil, typedValue: [UInt8]) {
            self.key = rawKey
            self.keyLength = keyLength
            self.typedValue = typedValue
        }
    }

    struct TensorInfo {
        var name: [UInt8]
        var nameLength: UInt64? = nil
        /// Overrides the n_dims field (the `dims` written are unchanged).
        var nDims: UInt32? = nil
        var dims: [UInt64]
        var type: UInt32
        var offset: UInt64
    }

    var magic: [UInt8] = Array("GGUF".utf8)
    var version: UInt32 = 3
    /// Override the header's tensor_count / kv_count (default: the real counts).
    var tensorCount: UInt64? = nil
    var kvCount: UInt64? = nil
    var kvs: [KV] = []
    var tensors: [TensorInfo] = []
    /// Padding applied between the tensor-info table and `data`.
    var headerPadding: Int = 32
    /// The data section, exactly as written after the padding.
    var data: [UInt8] = []

    func encoded() -> [UInt8] {
        var b = GGUFByteBuffer()
        b.bytes.append(contentsOf: magic)
        b.u32(version)
        b.u64(tensorCount ?? UInt64(tensors.count))
        b.u64(kvCount ?? UInt64(kvs.count))
        for kv in kvs {
            b.rawString(kv.key, length: kv.keyLength)
            b.bytes.append(contentsOf: kv.typedValue)
        }
        for t in tensors {
            b.rawString(t.name, length: t.nameLength)
            b.u32(t.nDims ?? UInt32(t.dims.count))
            for d in t.dims { b.u64(d) }
            b.u32(t.type)
            b.u64(t.offset)
        }
        b.pad(to: headerPadding)
        b.bytes.append(contentsOf: data)
        return b.bytes
    }
}
