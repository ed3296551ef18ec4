// Node 20 has no global WebSocket, and @medplum/core refers to one for FHIR subscriptions. This server
// never opens a subscription, so the stub only makes the dependency load the same way on Node 20 and 22.
// It must be imported before @medplum/core.
if (typeof globalThis.WebSocket === 'undefined') {
  globalThis.WebSocket = class WebSocket {
    constructor() {
      throw new Error('WebSockets are not available in the test FHIR server');
    }
  };
}
