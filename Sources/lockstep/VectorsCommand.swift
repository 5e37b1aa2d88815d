import ArgumentParser
import Foundation
import Lockstep

struct VectorsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vectors",
        abstract: "Generate or run the determinism test vectors (Vectors/ops, Vectors/models).",
        subcommands: [Generate.self, Run.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Regenerate every vector file from the reference implementation (byte-identical on rerun).")

        @Option(name: .long, help: "Vectors directory.")
        var dir: String = "Vectors"

        func run() throws {
            let result: (files: [String], skipped: [(path: String, reason: String)])
            do {
                result = try VectorCorpus.write(into: dir) { Terminal.progress("generating \($0)") }
            } catch { throw CLIError(error.description) }
            Terminal.endProgress()
            for f in result.files { Terminal.out("wrote \(dir)/\(f)\n") }
            for s in result.skipped { Terminal.out("skipped \(dir)/\(s.path): \(s.reason)\n") }
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the vectors on one backend or all; exit status 1 on any failure, naming each failing vector.")

        @Option(name: .long, help: "Backend name (\(BackendRegistry.names.joined(separator: ", "))) or 'all' (every backend available here).")
        var backend: String = "all"
        @Option(name: .long, help: "Worker threads for the backends, 1–\(BackendRegistry.maxThreads).")
        var threads: Int = 1
        @Option(name: .long, help: "Vectors directory.")
        var dir: String = "Vectors"
        @Option(name: .long, help: "Run only the vector groups whose name contains this text (e.g. ops/, matmul, models/tiny).")
        var only: String?
        @Flag(name: .long, help: "Print one JSON object instead of the table.")
        var json = false

        func run() throws {
            var backends: [any Backend] = []
            var unavailable: [(name: String, reason: String)] = []
            if backend == "all" {
                for name in BackendRegistry.names {
                    do { backends.append(try BackendRegistry.make(name, threads: threads)) } catch {
                        unavailable.append((name, error.description))
                    }
                }
            } else {
                do { backends.append(try BackendRegistry.make(backend, threads: threads)) } catch { throw CLIError(error.description) }
            }
            var report: VectorReport
            do {
                report = try VectorRunner(directory: dir).run(backends: backends, include: { g in only.map { g.contains($0) } ?? true }) {
                    Terminal.progress("running \($0)")
                }
            } catch { throw CLIError(error.description) }
            Terminal.endProgress()
            report.unavailable = unavailable
            if json {
                Terminal.out(report.json().serialized())
            } else {
                Terminal.out(report.table())
            }
            if !report.allPassed { throw ExitCode(1) }
            if report.outcomes.isEmpty { throw CLIError("no vectors matched") }
        }
    }
}
