/// GPT-2's reversible map between bytes and printable unicode scalars.
///
/// Byte-level BPE vocabularies spell every byte as one scalar: the printable Latin-1 bytes
/// `!`…`~`, `¡`…`¬`, `®`…`ÿ` stand for themselves, and the remaining 68 bytes (controls, space,
/// DEL, NBSP, soft hyphen) are given U+0100, U+0101, … in byte order. So a space is `Ġ` (U+0120)
/// and a newline `Ċ` (U+010A).
enum ByteLevel {
    /// `scalarForByte[b]`: the scalar that spells byte `b`.
    static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if isPrintable(UInt8(b)) {
                table[b] = Unicode.Scalar(UInt8(b))
            } else {
                table[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte a scalar of the byte-level alphabet stands for, or `nil` when it is not in the alphabet.
    static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let v = scalar.value
        if v < 256 {
            let b = UInt8(v)
            return isPrintable(b) ? b : nil
        }
        guard v < 256 + 68 else { return nil }
        return byteForExtended[Int(v - 256)]
    }

    /// Bytes spelled by U+0100 + i, for the 68 non-printable bytes.
    private static let byteForExtended: [UInt8] = {
        var out: [UInt8] = []
        for b in 0..<256 where !isPrintable(UInt8(b)) { out.append(UInt8(b)) }
        return out
    }()

    /// Whether a byte is one that GPT-2 leaves as its own Latin-1 scalar.
    private static func isPrintable(_ b: UInt8) -> Bool {
        (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
    }

    /// The text of a byte string in the byte-level alphabet (what a token would be spelled as).
    static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(scalarForByte[Int(b)]) }
        return String(s)
    }

    /// The bytes a byte-level token spells, or `nil` when some scalar is outside the alphabet.
    static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for s in text.unicodeScalars {
            guard let b = byte(for: s) else { return nil }
            out.append(b)
        }
        return out
    }
}

/// Appends the UTF-8 encoding of a scalar.
@inline(__always)
func appendUTF8(_ s: Unicode.Scalar, to out: inout [UInt8]) {
    let v = s.value
    if v < 0x80 {
        out.append(UInt8(v))
    } else if v < 0x800 {
        out.append(UInt8(0xC0 | (v >> 6)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    } else if v < 0x10000 {
        out.append(UInt8(0xE0 | (v >> 12)))
        out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    } else {
        out.append(UInt8(0xF0 | (v >> 18)))
        out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    }
}

/// A dictionary key that compares strings by their exact UTF-8 bytes.
///
/// Swift's `String` equality is canonical equivalence ("é" == "e\u{301}"), which would merge
/// distinct tokens; tokenizers need byte identity.
struct ByteKey: Hashable, Sendable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }
    init(_ string: String) { self.bytes = Array(string.utf8) }

    static func == (a: ByteKey, b: ByteKey) -> Bool {
        guard a.bytes.count == b.bytes.count else { return false }
        return a.bytes.withUnsafeBufferPointer { pa in
            b.bytes.withUnsafeBufferPointer { pb in
                for i in 0..<pa.count where pa[i] != pb[i] { return false }
                return true
            }
        }
    }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
