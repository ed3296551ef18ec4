ValueSet: BonemetReferralCodes
Id: bonemet-referral-codes
Title: "fhir-bonemet referrals"
Description: "The referrals a card may propose (profiles/outbound-codes.toml); a SNOMED CT coding is added where one was corroborated."
* $bonemet#ref-physiotherapy "Referral to physiotherapy (oncology-trained)"
* $bonemet#ref-exercise-physiology "Referral to clinical exercise physiology"
* $bonemet#ref-radiation-oncology "Referral to radiation oncology"
* $bonemet#ref-orthopaedic-surgery "Referral to orthopaedic surgery (fracture risk)"
* $bonemet#ref-spine-surgery "Referral to spine surgery (spinal stability)"
* $bonemet#ref-mscc-pathway "Urgent metastatic spinal cord compression pathway (MSCC coordinator)"
* $bonemet#ref-dental-examination "Dental examination before a bone-modifying agent"
* $bonemet#ref-palliative-care "Referral to palliative care"
* $bonemet#ref-pain-specialist "Referral to a pain specialist (interventional pain management)"
* $bonemet#ref-acute-oncology "Acute oncology review"

Profile: BonemetReferralServiceRequest
Parent: ServiceRequest
Id: bonemet-referral-servicerequest
Title: "fhir-bonemet referral"
Description: "A referral proposed by a card, created by the EHR only when a clinician accepts the suggestion: a draft order joining the clinician's pending orders. Its identifier (a digest of patient, referral and rule ids) lets an EHR recognise a repeat of the same proposal; reasonReference and supportingInfo name the data the finding used; the note names the rules."
* text 1..1
* identifier 1..1
* identifier.system = "http://fhir-bonemet.org/fhir/NamingSystem/referral" (exactly)
* identifier.value 1..1
* status = #draft
* intent = #order
* category 1..1
* category obeys bonemet-referral-category
* priority 1..1
* code 1..1
* code.coding ^slicing.discriminator.type = #value
* code.coding ^slicing.discriminator.path = "system"
* code.coding ^slicing.rules = #open
* code.coding contains bonemet 1..1
* code.coding[bonemet].system 1..1
* code.coding[bonemet].system = $bonemet (exactly)
* code.coding[bonemet].code 1..1
* code.coding[bonemet] from BonemetReferralCodes (required)
* code.text 1..1
* subject only Reference(Patient)
* encounter only Reference(Encounter)
* authoredOn 1..1
* requester only Reference(Practitioner or PractitionerRole)
* reasonReference only Reference(Condition or Observation)
* supportingInfo only Reference(Observation or MedicationRequest or MedicationStatement or Procedure)
* note 1..*

Invariant: bonemet-referral-category
Description: "The category is SNOMED CT 3457005 Patient referral."
Expression: "coding.where(system = 'http://snomed.info/sct' and code = '3457005').exists()"
Severity: #error

Instance: example-referral
InstanceOf: BonemetReferralServiceRequest
Title: "Example: urgent orthopaedic referral for an impending femoral fracture (Mirels 9)"
Usage: #example
* text.status = #generated
* text.div = "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p><b>Referral to orthopaedic surgery (fracture risk)</b> (urgent)</p><p>R04 Impending pathological fracture: Mirels 9 at the left proximal femur.</p></div>"
* identifier.system = "http://fhir-bonemet.org/fhir/NamingSystem/referral"
* identifier.value = "9b1d5e3f7a2c4e6b8d0f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b"
* status = #draft
* intent = #order
* category = $sct#3457005 "Patient referral (procedure)"
* priority = #urgent
* code.coding[bonemet] = $bonemet#ref-orthopaedic-surgery "Referral to orthopaedic surgery (fracture risk)"
* code.coding[1] = $sct#183545006 "Referral to orthopedic service (procedure)"
* code.text = "Referral to orthopaedic surgery (fracture risk)"
* subject = Reference(Patient/example-patient)
* authoredOn = "2025-06-02"
* requester = Reference(Practitioner/example-clinician)
* reasonReference[0] = Reference(Condition/example-bone-metastasis-condition)
* reasonReference[1] = Reference(Observation/example-mirels)
* supportingInfo = Reference(Observation/example-mirels)
* note.text = "Proposed by fhir-bonemet (rules R04). R04 Impending pathological fracture: Mirels 9 at the left proximal femur."

Profile: BonemetAnnotatedDraftMedicationRequest
Parent: MedicationRequest
Id: bonemet-annotated-draft-medicationrequest
Title: "Draft MedicationRequest annotated by fhir-bonemet"
Description: "On order-select and order-sign the service never creates a medication order: a card may hand back the EHR's own draft order, unchanged except for a note saying what to change and why (the card's update action), or propose deleting it. This profile describes that updated draft."
* status = #draft
* intent 1..1
* medication[x] 1..1
* subject only Reference(Patient)
* note 1..*
* obeys bonemet-draft-annotated

Invariant: bonemet-draft-annotated
Description: "One note says what fhir-bonemet advises, naming the rule (fhir-bonemet <rule id>: ...)."
Expression: "note.where(text.startsWith('fhir-bonemet ')).exists()"
Severity: #error

Instance: example-annotated-draft-medicationrequest
InstanceOf: BonemetAnnotatedDraftMedicationRequest
Title: "Example: an oxycodone draft order returned with a reminder to co-prescribe a laxative (P15)"
Usage: #example
* status = #draft
* intent = #order
* medicationCodeableConcept = $rxnorm#7804 "oxycodone"
* medicationCodeableConcept.text = "Oxycodone 5 mg oral tablet"
* subject = Reference(Patient/example-patient)
* authoredOn = "2025-06-02"
* requester = Reference(Practitioner/example-clinician)
* dosageInstruction.text = "5 mg every 4 hours as needed for pain"
* note.text = "fhir-bonemet P15: Add a stimulant laxative with the opioid (bowel regimen)."
