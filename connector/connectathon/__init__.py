"""Connect-a-thon: conformance cases against a partner connector, the local JP x TW matrix, reports.

    cases.py     the named cases (DSP, DCP, PACT v2/v3, bad input) over a shared Context
    runner.py    run cases against one partner; provision and run the local matrix
    report.py    JSON / HTML / terminal reports
    client.py    the Management API client the demo and the runner drive our connectors with
    commands.py  `kakehashi connectathon run|matrix|cases` (registered via connector/demo.py)
"""
