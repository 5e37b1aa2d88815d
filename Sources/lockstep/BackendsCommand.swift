import ArgumentParser
import Lockstep

struct BackendsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backends",
        abstract: "List the compute backends, whether each can run here, and why not.")

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func run() throws {
        let rows = BackendRegistry.availability()
        if json {
            try Terminal.json(["backends": rows.map { ["name": $0.name, "available": $0.available, "detail": $0.detail] }])
        } else {
            for r in rows {
                Terminal.out("\(r.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(r.available ? "available  " : "unavailable") \(r.detail)\n")
            }
        }
    }
}
