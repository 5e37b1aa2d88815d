import Foundation
import LockstepModel
import LockstepNative
import LockstepTrace

extension FraudProof {
    /// The size in bytes of the largest fraud proof that `check` can accept for a model of
    /// `config`: a checker reads no larger file (a proof comes from a prover, so its size is
    /// hostile input). Every term bounds a field of the format (§8.4):
    /// - the fixed header (magic, version, verdict, index): 21 bytes;
    /// - two signed commitments, each at most 64 KiB of fixed fields plus 4 bytes per token of
    ///   a request that fits the context (prompt and output at most `positions + 1` tokens),
    ///   with its length, signature and public key;
    /// - leaves `i` of A and B, leaf `i − 1`, and their four paths;
    /// - the inputs of step `i`: a layer step at position `p < positions` reads `p + 1` residual
    ///   rows (`4 · dim` bytes each), an embedding step one sample state (`4 · vocab + 4`);
    ///   each with its leaf, two paths and a length.
    /// A path has at most 64 nodes (a tree of fewer than 2^64 leaves). `positions` is the
    /// context a generation or replay may fill (`LlamaConfig.contextLimit`), so every proof
    /// about a trace the engine can replay fits. SmolLM2-135M (8,192 positions, `dim` 576):
    /// about 53 MB.
    public static func maxByteCount(for config: LlamaConfig) -> Int {
        let positions = config.contextLimit
        let path = 4 + 64 * Digest.byteCount
        let opening = TraceLeaf.byteCount + 2 * path + 4
        let commitment = 4 + 65_536 + 4 * (positions + 1) + 64 + 32
        let layerInputs = positions.multipliedReportingOverflow(by: opening + 4 * config.dim)
        let embeddingInput = opening + 4 * config.vocabularySize + 4
        let inputs = layerInputs.overflow ? Int.max : max(layerInputs.partialValue, embeddingInput)
        let fixed = 21 + 2 * commitment + 3 * TraceLeaf.byteCount + 4 * path + 4
        let total = inputs.addingReportingOverflow(fixed)
        return total.overflow ? Int.max : total.partialValue
    }

    /// The bytes of the proof file at `path`, refusing a file larger than
    /// `maxByteCount(for: config)` before reading any of it.
    /// - Throws: `VerifyError` naming the file when it cannot be opened or read, is not a
    ///   regular file, or is larger than the bound.
    public static func readFile(_ path: String, for config: LlamaConfig) throws(VerifyError) -> [UInt8] {
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is then refused as not a regular file).
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw VerifyError("\(path): cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw VerifyError("\(path): not a regular file") }
        let size = Int(st.st_size), limit = maxByteCount(for: config)
        guard size <= limit else {
            throw VerifyError("\(path): \(size) bytes, more than the \(limit) bytes of the largest fraud proof for this model "
                              + "(\(config.contextLimit) positions of dimension \(config.dim))")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, size - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw VerifyError("\(path): cannot read (\(n < 0 ? String(cString: strerror(errno)) : "the file shrank while read"))") }
            done += n
        }
        return bytes
    }
}
