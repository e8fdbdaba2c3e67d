/// Splits a script into its statements at the semicolons outside quotes and comments, for
/// SQLite, which prepares one statement at a time. A `CREATE TRIGGER … BEGIN … END;` body is
/// kept whole.
enum SQLiteScript {
    static func statements(in script: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var characters = Array(script)[...]
        func flush() {
            let trimmed = current.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty && trimmed != ";" { statements.append(trimmed) }
            current = ""
        }
        while let character = characters.popFirst() {
            switch character {
            case "'", "\"", "`":
                current.append(character)
                while let next = characters.popFirst() {
                    current.append(next)
                    if next == character {
                        if characters.first == character {  // a doubled quote inside
                            current.append(characters.removeFirst())
                        } else {
                            break
                        }
                    }
                }
            case "-" where characters.first == "-":
                while let next = characters.popFirst(), next != "\n" {}
                current.append("\n")
            case "/" where characters.first == "*":
                characters.removeFirst()
                while let next = characters.popFirst() {
                    if next == "*" && characters.first == "/" {
                        characters.removeFirst()
                        break
                    }
                }
                current.append(" ")
            case ";":
                current.append(character)
                // Inside a trigger's BEGIN … END, ";" ends its statements; END; ends the trigger.
                let words = current.uppercased().split { !$0.isLetter }
                if words.first == "CREATE", words.contains("TRIGGER"), words.contains("BEGIN"), words.last != "END" { continue }
                flush()
            default:
                current.append(character)
            }
        }
        flush()
        return statements
    }
}
