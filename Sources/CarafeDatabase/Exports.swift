@_exported import CarafeSQL
