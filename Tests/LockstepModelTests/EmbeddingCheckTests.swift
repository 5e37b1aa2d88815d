import XCTest
import LockstepGGUF
import LockstepModel

/// Loading rejects an embedding table that would dequantise to a non-finite value, naming the row
/// and the first such element: a non-finite block scale (or Q4_1 offset) in a quantised table, a
/// non-finite element in an F16 one. (The output head is untied here, so that the table is checked
/// as an embedding only.)
final class EmbeddingCheckTests: XCTestCase {
    private func load(_ type: GGMLType, corrupting: (_ row: UnsafeMutableRawPointer) -> Void) -> String? {
        let spec = TinyModelSpec(seed: 4, embeddingType: type, tiedOutput: false)
        var bytes = TinyModel.gguf(spec)
        guard let file = try? GGUFFile(bytes: bytes, name: "tiny.gguf"), let info = file.tensor(named: "token_embd.weight") else {
            XCTFail("no token_embd.weight")
            return nil
        }
        let rowBytes = type.byteCount(elements: spec.dim)!
        bytes.withUnsafeMutableBytes { corrupting($0.baseAddress! + file.dataOffset + info.offset + 7 * rowBytes) }
        do {
            _ = try LlamaModel(file: GGUFFile(bytes: bytes, name: "tiny.gguf"))
            return nil
        } catch {
            return "\(error)"
        }
    }

    func testNonFiniteEmbeddingRowsAreRejectedWithRowAndElement() {
        for type in [GGMLType.q8_0, .q4_0, .q4_1] {
            for scale: UInt16 in [0x7C00, 0xFC00, 0x7E00] {   // +∞, −∞, NaN as block 1's scale
                let message = load(type) { $0.storeBytes(of: scale.littleEndian, toByteOffset: type.blockBytes, as: UInt16.self) }
                XCTAssertTrue(message?.contains("row 7 element 32") == true, "\(type) scale \(scale): \(message ?? "loaded")")
            }
        }
        // The Q4_1 offset of block 1.
        let offset = load(.q4_1) { $0.storeBytes(of: UInt16(0x7C00).littleEndian, toByteOffset: GGMLType.q4_1.blockBytes + 2, as: UInt16.self) }
        XCTAssertTrue(offset?.contains("row 7 element 32") == true, offset ?? "loaded")
        // An F16 table: element 40 of row 7.
        let f16 = load(.f16) { $0.storeBytes(of: UInt16(0x7C00).littleEndian, toByteOffset: 2 * 40, as: UInt16.self) }
        XCTAssertTrue(f16?.contains("row 7 element 40 is inf") == true, f16 ?? "loaded")
        // The same files unchanged load.
        for type in [GGMLType.q8_0, .q4_0, .q4_1, .f16] { XCTAssertNil(load(type) { _ in }, "\(type)") }
    }
}
