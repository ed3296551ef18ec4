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
* $bonemet#ref-oral-maxillofacial "Referral to dentistry or oral-maxillofacial surgery (suspected jaw osteonecrosis)"
* $bonemet#ref-palliative-care "Referral to palliative care"
* $bonemet#ref-pain-specialist "Referral to a pain specialist (interventional pain management)"
* $bonemet#ref-sedating-regimen-review "Referral to a pain or palliative care specialist (review of the sedating regimen)"
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

ValueSet: BonemetSuggestedMedications
Id: bonemet-suggested-medications
Title: "Medications fhir-bonemet may propose"
Description: "The medications a card may propose as a new draft order, taken from the project's medication classes (profiles/source): a stimulant laxative beside an opioid (P15) and calcium with vitamin D beside a bone-modifying agent (P09). The service codes them by ATC, since the medication tables hold no RxNorm product for senna or for a calcium and vitamin D combination; the ATC codes are marked unverified in those ValueSets."
* include codes from valueset http://fhir-bonemet.org/fhir/ValueSet/laxative-stimulant
* include codes from valueset http://fhir-bonemet.org/fhir/ValueSet/calcium-vitamin-d

ValueSet: BonemetSuggestionIntents
Id: bonemet-suggestion-intents
Title: "Intents of a proposed medication order"
Description: "A proposed order is either a proposal or an order the clinician signs; never a plan, an instance order or an option."
* http://hl7.org/fhir/CodeSystem/medicationrequest-intent#proposal "Proposal"
* http://hl7.org/fhir/CodeSystem/medicationrequest-intent#order "Order"

Profile: BonemetSuggestedMedicationRequest
Parent: MedicationRequest
Id: bonemet-suggested-medicationrequest
Title: "Draft MedicationRequest proposed by fhir-bonemet"
Description: "A new medication order a card proposes (a create action on order-select, order-sign or patient-view), created by the EHR only when a clinician accepts the suggestion: a draft joining the clinician's pending orders. Its id is stable for the patient and the proposal, so accepting the same suggestion twice names the same order. The medication is coded from the project's medication classes; the dosage says in words and in a timing what to give; supportingInformation names the data the finding used; the note names the rules."
* id 1..1
* status = #draft
* intent from BonemetSuggestionIntents (required)
* medication[x] only CodeableConcept
* medicationCodeableConcept 1..1
* medicationCodeableConcept.coding 1..*
* medicationCodeableConcept from BonemetSuggestedMedications (required)
* medicationCodeableConcept.text 1..1
* subject only Reference(Patient)
* subject.reference 1..1
* authoredOn 1..1
* requester only Reference(Practitioner or PractitionerRole)
* note 1..*
* obeys bonemet-medication-proposed
* dosageInstruction 1..1
* dosageInstruction.text 1..1
* dosageInstruction.timing 1..1
* dosageInstruction.timing.repeat 1..1
* dosageInstruction.route 1..1
* dosageInstruction.doseAndRate 1..1
* dosageInstruction.doseAndRate.dose[x] only SimpleQuantity

Invariant: bonemet-medication-proposed
Description: "One note names the rules that propose the order: 'Proposed by fhir-bonemet (rules <rule ids>). ...'."
Expression: "note.where(text.startsWith('Proposed by fhir-bonemet (rules ')).exists()"
Severity: #error

Instance: example-suggested-medicationrequest
InstanceOf: BonemetSuggestedMedicationRequest
Title: "Example: senna proposed beside a strong opioid without a bowel regimen (P15)"
Usage: #example
* status = #draft
* intent = #order
* medicationCodeableConcept = http://www.whocc.no/atc#A06AB06 "senna glycosides"
* medicationCodeableConcept.text = "Senna (sennosides) 8.6 mg oral tablet"
* subject = Reference(Patient/example-patient)
* authoredOn = "2025-06-02"
* requester = Reference(Practitioner/example-clinician)
* supportingInformation = Reference(MedicationRequest/example-oxycodone)
* note.text = "Proposed by fhir-bonemet (rules P15). P15 Opioid without a bowel regimen: Opioid without a stimulant or osmotic laxative: add a bowel regimen. Why: Opioid active (Oxycodone 5 mg oral tablet) and no stimulant or osmotic laxative."
* dosageInstruction.text = "Sennosides 8.6 mg: 2 tablets at night; adjust to a soft stool daily"
* dosageInstruction.timing.repeat.frequency = 1
* dosageInstruction.timing.repeat.period = 1
* dosageInstruction.timing.repeat.periodUnit = #d
* dosageInstruction.timing.repeat.when = #HS
* dosageInstruction.route = $sct#26643006 "Oral route"
* dosageInstruction.doseAndRate.doseQuantity = 17.2 'mg' "mg"

Profile: BonemetAnnotatedDraftMedicationRequest
Parent: MedicationRequest
Id: bonemet-annotated-draft-medicationrequest
Title: "Draft MedicationRequest changed by fhir-bonemet"
Description: "On order-select and order-sign a card may hand back the EHR's own draft order with one concrete change (the card's update action): a dose reduced for renal function (P08), or fewer administrations a day so that the total acetaminophen stays under its ceiling (P20, P21). Everything else is the EHR's draft as it was, including its own notes; one added note names the rules and says why. The medication is coded as the EHR coded it, so no binding is added here."
* status = #draft
* intent 1..1
* medication[x] 1..1
* subject 1..1
* subject only Reference(Patient)
* note 1..*
* obeys bonemet-medication-changed
* dosageInstruction 1..1
* dosageInstruction.text 1..1
* dosageInstruction.doseAndRate 1..1
* dosageInstruction.doseAndRate.dose[x] 1..1

Invariant: bonemet-medication-changed
Description: "One note names the rules that changed the order: 'Changed by fhir-bonemet (rules <rule ids>). ...'."
Expression: "note.where(text.startsWith('Changed by fhir-bonemet (rules ')).exists()"
Severity: #error

Instance: example-annotated-draft-medicationrequest
InstanceOf: BonemetAnnotatedDraftMedicationRequest
Title: "Example: a zoledronic acid draft order returned with the dose reduced for renal function (P08)"
Usage: #example
* status = #draft
* intent = #order
* medicationCodeableConcept = $rxnorm#77655 "zoledronic acid"
* medicationCodeableConcept.text = "Zoledronic acid 4 mg IV infusion over 15 minutes"
* subject = Reference(Patient/example-patient)
* authoredOn = "2025-06-02"
* requester = Reference(Practitioner/example-clinician)
* note.text = "Changed by fhir-bonemet (rules P08). P08 Zoledronic acid dose for renal function: Zoledronic acid 4 mg is above the 3.5 mg advised for CrCl 56.3: reduce. Why: Zoledronic acid dose depends on renal function: CrCl 56.3 mL/min (Cockcroft-Gault)."
* dosageInstruction.text = "3.5 mg (reduced for renal function)"
* dosageInstruction.timing.repeat.frequency = 1
* dosageInstruction.timing.repeat.period = 4
* dosageInstruction.timing.repeat.periodUnit = #wk
* dosageInstruction.route = $sct#47625008 "Intravenous route"
* dosageInstruction.doseAndRate.doseQuantity = 3.5 'mg' "mg"
