"""The contender of ``bench_service.py --healthchain``: a CDS Hooks service built on HealthChain 0.16.1.

Runs in a Python environment of its own (HealthChain pins an older FastAPI than this project), made by
``bench_service.py``.  Its patient-view hook does what HealthChain does for any hook before a team's own
logic runs: the request validated into HealthChain's ``CDSRequest``, the prefetch read into typed FHIR
resources by its ``CdsFhirAdapter``, and the answer formatted back; it adds no clinical reasoning, so
what it costs is a lower bound for a service built this way.

    <healthchain python> benchmarks/healthchain_server.py PORT
"""

import logging
import sys

import uvicorn
from healthchain.gateway import CDSHooksService, HealthChainAPI
from healthchain.io.adapters.cdsfhiradapter import CdsFhirAdapter
from healthchain.models import CDSRequest, CDSResponse

PATH = "/cds/cds-services/bonemet-patient-view"  # HealthChain's base path, then the service's id


def main() -> None:
    port = int(sys.argv[1])
    # It warns on every call that the answer has no cards and the prefetch no note: not its cost to bear.
    logging.getLogger("healthchain").setLevel(logging.ERROR)
    app = HealthChainAPI()
    cds = CDSHooksService()
    adapter = CdsFhirAdapter()

    @cds.hook("patient-view", id="bonemet-patient-view")
    def patient_view(request: CDSRequest) -> CDSResponse:
        document = adapter.parse(request)
        return adapter.format(document)

    app.register_service(cds)
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
